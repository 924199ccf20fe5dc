package dicomvr

import "testing"

// TestLongLength: PS3.5 Table 7.1-1 lists these 13 VRs with the 4-byte
// length; every other VR of Table 6.2-1 has 2 bytes.
func TestLongLength(t *testing.T) {
	long := "OB OD OF OL OV OW SQ SV UC UN UR UT UV"
	short := "AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US"
	for i := 0; i+2 <= len(long); i += 3 {
		if vr := long[i : i+2]; !LongLength(vr) {
			t.Errorf("%s: want long", vr)
		}
	}
	for i := 0; i+2 <= len(short); i += 3 {
		if vr := short[i : i+2]; LongLength(vr) {
			t.Errorf("%s: want short", vr)
		}
	}
	if LongLength("") || LongLength("ob") {
		t.Error("not a VR, yet long")
	}
}
