// Package locale keeps Fyne quiet under a "C.UTF-8" locale, the default in
// containers and CI. Fyne's translations look the locale up while packages
// are initialised, before main runs; go-locale reduces "C.UTF-8" to the
// language "C", which is no language tag, so every command, even
// `orionbridge version`, would print a "Fyne error: Error parsing user
// locale C" to stderr.
//
// Go initialises packages in import-path order once their imports are done
// (the Go spec, "Package initialization", since Go 1.21). This package
// imports only syscall and its path sorts before "os", so its init runs
// before any package that reads the environment through os: it sets
// LANGUAGE=en, which go-locale prefers, when the locale is C or POSIX with a
// codeset and LANGUAGE is unset. English is what the C locale means, so
// child processes that inherit LANGUAGE speak as they did.
package locale

import "syscall"

func init() {
	if _, set := syscall.Getenv("LANGUAGE"); set {
		return
	}
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v, _ := syscall.Getenv(name)
		if v == "" {
			continue
		}
		if isCWithCodeset(v) {
			_ = syscall.Setenv("LANGUAGE", "en")
		}
		return
	}
}

// isCWithCodeset reports "C.UTF-8", "C.utf8", "POSIX.UTF-8" and the like.
// Plain "C" and "POSIX" are fine: go-locale treats them as no locale.
func isCWithCodeset(v string) bool {
	for _, lang := range []string{"C.", "POSIX."} {
		if len(v) > len(lang) && v[:len(lang)] == lang {
			return true
		}
	}
	return false
}
