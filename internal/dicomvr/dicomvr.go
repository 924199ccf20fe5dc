// Package dicomvr holds facts of PS3.5 about value representations that
// the scanner, the DICOMDIR writer, the DIMSE encoder and the test CD
// generator all need: one table instead of four copies. It imports
// nothing, so the generator (which dicomscan's tests use) can use it too.
package dicomvr

// LongLength reports whether an explicit VR has a 2-byte reserved field
// and a 4-byte length (PS3.5 Table 7.1-1) rather than a 2-byte length.
func LongLength(vr string) bool {
	switch vr {
	case "OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV":
		return true
	}
	return false
}
