package cli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pacsListener serves each connection with serve on 127.0.0.1.
func pacsListener(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); serve(c) }()
		}
	}()
	return l.Addr().String()
}

func readPDUForTest(r io.Reader) (byte, []byte, error) {
	var h [6]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, binary.BigEndian.Uint32(h[2:]))
	_, err := io.ReadFull(r, body)
	return h[0], body, err
}

func pdu(typ byte, body []byte) []byte {
	out := []byte{typ, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], uint32(len(body)))
	return append(out, body...)
}

func item(typ byte, v []byte) []byte {
	out := []byte{typ, 0, 0, 0}
	binary.BigEndian.PutUint16(out[2:], uint16(len(v)))
	return append(out, v...)
}

func cmdElem(e uint16, v []byte) []byte {
	out := binary.LittleEndian.AppendUint16(nil, 0)
	out = binary.LittleEndian.AppendUint16(out, e)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(v)))
	return append(out, v...)
}

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// echoSCP is a minimal Verification SCP written from PS3.8/PS3.7 by hand:
// it accepts presentation context 1 in implicit VR little endian, answers
// one C-ECHO with success and the release.
func echoSCP(c net.Conn) {
	typ, rq, err := readPDUForTest(c)
	if err != nil || typ != 0x01 || len(rq) < 68 {
		return
	}
	var ac bytes.Buffer
	ac.Write(rq[:68])
	ac.Write(item(0x10, []byte("1.2.840.10008.3.1.1.1")))
	ac.Write(item(0x21, append([]byte{1, 0, 0, 0}, item(0x40, []byte("1.2.840.10008.1.2"))...)))
	ac.Write(item(0x50, item(0x51, binary.BigEndian.AppendUint32(nil, 16384))))
	c.Write(pdu(0x02, ac.Bytes()))
	for {
		typ, body, err := readPDUForTest(c)
		if err != nil {
			return
		}
		switch typ {
		case 0x04:
			var els []byte
			els = append(els, cmdElem(0x0002, []byte("1.2.840.10008.1.1\x00"))...)
			els = append(els, cmdElem(0x0100, u16(0x8030))...)
			els = append(els, cmdElem(0x0120, u16(1))...)
			els = append(els, cmdElem(0x0800, u16(0x0101))...)
			els = append(els, cmdElem(0x0900, u16(0))...)
			cmd := append(cmdElem(0x0000, binary.LittleEndian.AppendUint32(nil, uint32(len(els)))), els...)
			pdv := binary.BigEndian.AppendUint32(nil, uint32(len(cmd)+2))
			pdv = append(pdv, body[4], 3)
			c.Write(pdu(0x04, append(pdv, cmd...)))
		case 0x05:
			c.Write(pdu(0x06, make([]byte, 4)))
			return
		}
	}
}

func runCLI(t *testing.T, lang string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("LANGUAGE", "")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", lang)
	var o, e bytes.Buffer
	code = Main(args, strings.NewReader(""), &o, &e)
	return code, o.String(), e.String()
}

func TestPacsTestEchoOK(t *testing.T) {
	addr := pacsListener(t, echoSCP)
	code, out, errOut := runCLI(t, "de_DE.UTF-8", "pacs", "test", "dicom://PACS@"+addr+"?calling=RADIO1")
	if code != ExitOK || !strings.Contains(out, "Das PACS PACS unter "+addr+" antwortet und nimmt den Aufrufer RADIO1 an") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "en_US.UTF-8", "pacs", "test", "--json", "dicom://PACS@"+addr)
	var v map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v["echo"] != "ok" || v["callingAE"] != "BILDBOTE" || v["address"] != addr {
		t.Fatalf("exit %d, json %s", code, out)
	}
}

// The diagnoses: nobody listens, the AE title is refused, no answer in
// time, a malformed address; each with its exit code, in German and
// English.
func TestPacsTestDiagnosis(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	rejecting := pacsListener(t, func(c net.Conn) {
		readPDUForTest(c)
		c.Write(pdu(0x03, []byte{0, 1, 1, 3})) // permanent, service user, calling AE not recognized
	})
	silent := pacsListener(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, tc := range []struct {
		target, lang string
		extra        []string
		exit         int
		want         string
	}{
		{"dicom://PACS@" + closed, "de_DE.UTF-8", nil, ExitTransient, "Unter " + closed + " nimmt niemand eine Verbindung an"},
		{"dicom://PACS@" + closed, "en_GB.UTF-8", nil, ExitTransient, "Nobody accepts a connection at " + closed},
		{"dicom://PACS@" + rejecting, "de_DE.UTF-8", nil, ExitRefused, "Das PACS lehnt den Aufrufer BILDBOTE ab – AE-Titel beim PACS eintragen lassen."},
		{"dicom://PACS@" + rejecting + "?calling=CT2", "en_US.UTF-8", nil, ExitRefused, "The PACS refuses the caller CT2"},
		{"dicom://PACS@" + silent, "de_DE.UTF-8", []string{"--timeout", "300ms"}, ExitTransient, "antwortet nicht (Zeitlimit überschritten)"},
		{"dicom://" + silent, "de_DE.UTF-8", nil, ExitInput, "ist ungültig"},
		{"dicom://PACS@" + silent + "?tls=1", "en_US.UTF-8", []string{"--timeout", "300ms"}, ExitTransient, "does not answer the TLS handshake"},
		{"dicom://PACS@" + silent + "?tls=ja", "de_DE.UTF-8", nil, ExitInput, "tls= nimmt 1 (DICOM TLS) oder 0"},
	} {
		start := time.Now()
		args := append([]string{"pacs", "test"}, tc.extra...)
		code, _, errOut := runCLI(t, tc.lang, append(args, tc.target)...)
		if code != tc.exit || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s (%s): exit %d, stderr %q; want %d and %q", tc.target, tc.lang, code, errOut, tc.exit, tc.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %v", tc.target, d)
		}
	}
	if code, _, _ := runCLI(t, "de_DE.UTF-8", "pacs"); code != ExitUsage {
		t.Errorf("pacs without action: exit %d", code)
	}
	if code, _, _ := runCLI(t, "de_DE.UTF-8", "pacs", "test"); code != ExitUsage {
		t.Errorf("pacs test without target: exit %d", code)
	}
}
