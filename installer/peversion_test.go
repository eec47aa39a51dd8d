// Used by installer_test.go only, which runs on Linux.

//go:build linux

package installer

// A reader for the version resource of a PE file, enough for the installer
// check to see what Explorer's Details tab would show. debug/pe gives the
// headers and sections; the resource tree and VS_VERSION_INFO are parsed
// here from their documented layouts:
// https://learn.microsoft.com/windows/win32/debug/pe-format#the-rsrc-section
// https://learn.microsoft.com/windows/win32/menurc/vs-versioninfo

import (
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Resource types (winuser.h).
const (
	rtGroupIcon = 14
	rtVersion   = 16
	rtManifest  = 24
)

// peResources maps each resource type ID to the data of its first entry
// (first name, first language), which is all a version resource or a
// manifest ever has.
func peResources(f *pe.File) (map[uint32][]byte, error) {
	sec := f.Section(".rsrc")
	if sec == nil {
		return nil, errors.New("no .rsrc section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	u16 := func(off uint32) (uint16, error) {
		if int(off)+2 > len(data) {
			return 0, fmt.Errorf("resource offset %#x out of range", off)
		}
		return binary.LittleEndian.Uint16(data[off:]), nil
	}
	u32 := func(off uint32) (uint32, error) {
		if int(off)+4 > len(data) {
			return 0, fmt.Errorf("resource offset %#x out of range", off)
		}
		return binary.LittleEndian.Uint32(data[off:]), nil
	}
	// entries lists a directory's entries: IMAGE_RESOURCE_DIRECTORY is 16
	// bytes, its counts at 12 and 14, then 8-byte entries (ID, offset; the
	// offset's high bit marks a subdirectory).
	type entry struct{ id, off uint32 }
	entries := func(dir uint32) ([]entry, error) {
		named, err := u16(dir + 12)
		if err != nil {
			return nil, err
		}
		ids, err := u16(dir + 14)
		if err != nil {
			return nil, err
		}
		var list []entry
		for i := uint32(0); i < uint32(named)+uint32(ids); i++ {
			id, err1 := u32(dir + 16 + 8*i)
			off, err2 := u32(dir + 16 + 8*i + 4)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			list = append(list, entry{id, off})
		}
		return list, nil
	}
	const subdir = 0x80000000
	types, err := entries(0)
	if err != nil {
		return nil, err
	}
	res := map[uint32][]byte{}
	for _, typ := range types {
		off := typ.off
		// Down two levels (name, then language) to the data entry.
		for level := 0; level < 2; level++ {
			if off&subdir == 0 {
				return nil, fmt.Errorf("resource type %d: expected a directory at level %d", typ.id, level+1)
			}
			list, err := entries(off &^ subdir)
			if err != nil {
				return nil, err
			}
			if len(list) == 0 {
				return nil, fmt.Errorf("resource type %d: empty directory", typ.id)
			}
			off = list[0].off
		}
		// IMAGE_RESOURCE_DATA_ENTRY: RVA, size.
		rva, err1 := u32(off)
		size, err2 := u32(off + 4)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		start := rva - sec.VirtualAddress
		if rva < sec.VirtualAddress || int(start)+int(size) > len(data) {
			return nil, fmt.Errorf("resource type %d: data outside .rsrc", typ.id)
		}
		res[typ.id] = data[start : start+size]
	}
	return res, nil
}

// versionInfo is what a VS_VERSION_INFO resource says.
type versionInfo struct {
	FileVersion, ProductVersion [4]uint16         // VS_FIXEDFILEINFO, major.minor.patch.build
	Strings                     map[string]string // StringFileInfo, first table
}

// parseVersionInfo reads VS_VERSION_INFO: a tree of blocks, each
// {wLength, wValueLength, wType, UTF-16 key, padding to 4 bytes, value,
// padding, children}.
func parseVersionInfo(data []byte) (versionInfo, error) {
	info := versionInfo{Strings: map[string]string{}}
	root, err := parseBlock(data)
	if err != nil {
		return info, err
	}
	if root.key != "VS_VERSION_INFO" {
		return info, fmt.Errorf("root block %q, want VS_VERSION_INFO", root.key)
	}
	v := root.value
	if len(v) < 52 || binary.LittleEndian.Uint32(v) != 0xFEEF04BD {
		return info, errors.New("no VS_FIXEDFILEINFO")
	}
	word := func(off int) uint16 { return binary.LittleEndian.Uint16(v[off:]) }
	// dwFileVersionMS at 8, LS at 12; dwProductVersionMS at 16, LS at 20;
	// each DWORD holds the higher number in its high word.
	info.FileVersion = [4]uint16{word(10), word(8), word(14), word(12)}
	info.ProductVersion = [4]uint16{word(18), word(16), word(22), word(20)}
	for _, c := range root.children {
		if c.key != "StringFileInfo" || len(c.children) == 0 {
			continue
		}
		for _, s := range c.children[0].children {
			info.Strings[s.key] = utf16String(s.value)
		}
	}
	return info, nil
}

type block struct {
	key      string
	value    []byte
	children []block
}

func parseBlock(data []byte) (block, error) {
	if len(data) < 6 {
		return block{}, errors.New("truncated version block")
	}
	length := int(binary.LittleEndian.Uint16(data))
	valueLen := int(binary.LittleEndian.Uint16(data[2:]))
	typ := binary.LittleEndian.Uint16(data[4:])
	if length < 6 || length > len(data) {
		return block{}, fmt.Errorf("version block length %d of %d bytes", length, len(data))
	}
	data = data[:length]
	// The key: UTF-16 up to a NUL.
	off := 6
	var key []uint16
	for ; off+1 < len(data); off += 2 {
		c := binary.LittleEndian.Uint16(data[off:])
		if c == 0 {
			off += 2
			break
		}
		key = append(key, c)
	}
	off = align4(off)
	// A text value's length counts UTF-16 units, a binary one bytes.
	if typ == 1 {
		valueLen *= 2
	}
	if off+valueLen > len(data) {
		return block{}, fmt.Errorf("version block %q: value past its end", string(utf16.Decode(key)))
	}
	b := block{key: string(utf16.Decode(key)), value: data[off : off+valueLen]}
	for off = align4(off + valueLen); off < len(data); {
		child, err := parseBlock(data[off:])
		if err != nil {
			return block{}, err
		}
		b.children = append(b.children, child)
		off = align4(off + int(binary.LittleEndian.Uint16(data[off:])))
	}
	return b, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// utf16String decodes a NUL-terminated UTF-16LE string.
func utf16String(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
