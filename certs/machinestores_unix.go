//go:build !windows

package certs

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// userStoresForMachineCA: the running user's NSS databases.
func userStoresForMachineCA() []trustStore {
	acct, err := invokingAccount()
	if err != nil {
		return nil
	}
	return nssStores(acct)
}

// everyUsersStores are the NSS databases of every local account with a
// home folder, each changed as its owner (certutil runs with their uid).
func everyUsersStores() []trustStore {
	var stores []trustStore
	for _, acct := range localAccounts() {
		for _, st := range nssStores(acct) {
			if _, absent := st.(absentStore); !absent {
				stores = append(stores, st)
			}
		}
	}
	return stores
}

// localAccounts reads /etc/passwd (name:x:uid:gid:gecos:home:shell): the
// accounts whose home folder exists and is theirs. Directory services
// (LDAP, AD) users are not listed there; their NSS databases keep the CA,
// which then no longer matches any key and signs nothing.
func localAccounts() []account {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil
	}
	defer f.Close()
	me := os.Geteuid()
	var out []account
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 7 {
			continue
		}
		uid, uerr := strconv.Atoi(fields[2])
		gid, gerr := strconv.Atoi(fields[3])
		home := fields[5]
		if uerr != nil || gerr != nil || !strings.HasPrefix(home, "/") || home == "/" {
			continue
		}
		if owner, ok := ownerOf(home); !ok || owner != uid {
			continue
		}
		out = append(out, account{home: home, uid: uid, gid: gid, other: uid != me})
	}
	return out
}

// ownerOf is the uid owning path (not following a final link).
func ownerOf(path string) (int, bool) {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
