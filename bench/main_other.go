//go:build !linux

// Command orionbench measures Orion Bridge against websockify and the
// machine's limits. It reads /proc and forks helper processes, so it runs on
// Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "orionbench runs on Linux only")
	os.Exit(2)
}
