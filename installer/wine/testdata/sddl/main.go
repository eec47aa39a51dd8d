// Command sddl prints the owner and DACL of each file named on its command
// line, as Windows reads them (GetNamedSecurityInfo), in SDDL, one
// "path<TAB>SDDL" line each: the Wine check's way to see a file's ACL,
// since Wine 8's icacls and cacls are stubs that print nothing. Test-only,
// cross-compiled by installer/wine (machinecert_test.go), never shipped.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

func main() {
	status := 0
	for _, path := range os.Args[1:] {
		sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
			windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
		if err != nil {
			fmt.Fprintf(os.Stderr, "GetNamedSecurityInfo %s: %v\n", path, err)
			status = 1
			continue
		}
		fmt.Printf("%s\t%s\n", path, sd.String())
	}
	os.Exit(status)
}
