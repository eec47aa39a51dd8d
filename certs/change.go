package certs

import "time"

// ChangeKind says what changed.
type ChangeKind int

const (
	// LeafIssued: this Source signed and wrote a new leaf (Change.Reason
	// says why: none yet, due, forced renewal, …).
	LeafIssued ChangeKind = iota + 1
	// LeafChangedOnDisk: the served pair's files were replaced by another
	// process (or IT, for an external pair) and reloaded.
	LeafChangedOnDisk
	// CACreated: a new local CA was created; browsers trust it only after
	// `orionbridge certs install`.
	CACreated
	// CARenewed: the local CA was replaced because it was due; browsers
	// must trust the new one.
	CARenewed
	// CAChangedOnDisk: another process replaced the CA; reloaded.
	CAChangedOnDisk
)

func (k ChangeKind) String() string {
	switch k {
	case LeafIssued:
		return "leaf-issued"
	case LeafChangedOnDisk:
		return "leaf-changed-on-disk"
	case CACreated:
		return "ca-created"
	case CARenewed:
		return "ca-renewed"
	case CAChangedOnDisk:
		return "ca-changed-on-disk"
	}
	return "unknown"
}

// Change is one change reported to Options.OnChange. Serial and NotAfter
// describe the new leaf (Leaf* kinds) or the new CA (CA* kinds);
// Fingerprint is the new CA's.
type Change struct {
	Kind        ChangeKind
	Reason      string // LeafIssued only
	Serial      string
	NotAfter    time.Time
	Fingerprint string
	Path        string // the certificate file
}
