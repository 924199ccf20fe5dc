package stow

import "testing"

// Answers as PS3.18 shows them and as servers send them: an object, or an
// array of one; failures with their reason.
func TestParseResponse(t *testing.T) {
	body := `[{
	  "00081190": {"vr": "UR", "Value": ["http://pacs/dicom-web/studies/1.2"]},
	  "00081198": {"vr": "SQ", "Value": [{
	    "00081150": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
	    "00081155": {"vr": "UI", "Value": ["1.2.3.bad"]},
	    "00081197": {"vr": "US", "Value": [42752]}}]},
	  "00081199": {"vr": "SQ", "Value": [
	    {"00081155": {"vr": "UI", "Value": ["1.2.3.1"]}},
	    {"00081155": {"vr": "UI", "Value": ["1.2.3.2"]}}]}
	}]`
	stored, failed, err := parseResponse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !stored["1.2.3.1"] || !stored["1.2.3.2"] || len(stored) != 2 {
		t.Errorf("stored %v", stored)
	}
	if failed["1.2.3.bad"] != 0xA700 || len(failed) != 1 {
		t.Errorf("failed %v", failed)
	}
	if s, f, err := parseResponse([]byte("  ")); err != nil || len(s)+len(f) != 0 {
		t.Errorf("empty body: %v %v %v", s, f, err)
	}
	if _, _, err := parseResponse([]byte("<html>")); err == nil {
		t.Error("HTML accepted as dicom+json")
	}
}

func TestBatches(t *testing.T) {
	c := &Client{BatchFiles: 3, BatchBytes: 100}
	var in []Instance
	for _, size := range []int64{10, 10, 10, 10, 90, 200, 5} {
		in = append(in, Instance{Size: size})
	}
	var sizes []int
	for _, b := range c.batches(in) {
		sizes = append(sizes, len(b))
	}
	// 3 by count; 10+90 fits 100; 200 alone (a batch holds at least one); 5.
	want := []int{3, 2, 1, 1}
	if len(sizes) != len(want) {
		t.Fatalf("batches %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("batches %v, want %v", sizes, want)
		}
	}
}
