package dimse

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/dicompeer"
)

// Orthanc configured as clinics run it: only known modalities may connect
// (DicomAlwaysAllowEcho/Store off) and the called AE title is checked.
// A caller it does not know gets A-ASSOCIATE-RJ "calling AE title not
// recognized", which reads "Das PACS lehnt den Aufrufer … ab – AE-Titel
// beim PACS eintragen lassen."; the registered caller is let in. Orthanc
// runs in this test binary's private network namespace (see TestMain).
func TestOrthancRefusesUnknownCaller(t *testing.T) {
	needNetns(t)
	bin := corpus.Tool(t, "Orthanc")
	dir := t.TempDir()
	dicomPort, httpPort := freePort(t), freePort(t)
	cfg := map[string]any{
		"Name": "BILDBOTE-DIMSE", "HttpPort": httpPort, "DicomPort": dicomPort, "DicomAet": "ORTHANC",
		"RemoteAccessAllowed": false, "AuthenticationEnabled": false,
		"StorageDirectory": filepath.Join(dir, "storage"), "IndexDirectory": filepath.Join(dir, "index"),
		"DicomAlwaysAllowEcho": false, "DicomAlwaysAllowStore": false, "DicomCheckCalledAet": true,
		"DicomModalities": map[string]any{"RADIO1": []any{"RADIO1", "127.0.0.1", 104}},
	}
	data, _ := json.Marshal(cfg)
	path := filepath.Join(dir, "orthanc.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := peerAt(t, dicomPort, bin, path)
	base := Config{Addr: addr, Called: "ORTHANC"}

	ok := base
	ok.Calling = "RADIO1"
	if err := Echo(testCtx(t), ok); err != nil {
		t.Fatalf("registered caller: %v", err)
	}

	unknown := base
	unknown.Calling = "BILDBOTE"
	err := Echo(testCtx(t), unknown)
	var rj *RejectedError
	if !errors.As(err, &rj) || !rj.CallingAENotRecognized() {
		t.Fatalf("unknown caller: err %v, want calling AE not recognized", err)
	}
	ue, _ := i18n.AsUserError(err)
	if got := ue.Message(i18n.DE); got != "Das PACS lehnt den Aufrufer BILDBOTE ab – AE-Titel beim PACS eintragen lassen." {
		t.Errorf("de: %q", got)
	}

	wrong := ok
	wrong.Called = "PACS"
	err = Echo(testCtx(t), wrong)
	if !errors.As(err, &rj) || !rj.CalledAENotRecognized() {
		t.Fatalf("wrong called AE: err %v, want called AE not recognized", err)
	}
	if ue, _ := i18n.AsUserError(err); !strings.Contains(ue.Message(i18n.EN), "does not know the AE title PACS") {
		t.Errorf("en: %q", ue.Message(i18n.EN))
	}
}

// peerAt is peer for a program that takes its port from its own
// configuration: args are passed as they are, port is where it listens.
func peerAt(t *testing.T, port int, bin string, args ...string) string {
	t.Helper()
	dicompeer.Run(t, bin, port, args...)
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
