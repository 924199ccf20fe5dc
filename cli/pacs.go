package cli

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/transfer/dimse"
)

// pacsTLSFlags are --pacs-ca FILE, --pacs-cert FILE and --pacs-key FILE:
// the DICOM TLS files for dicom:// targets with tls=1 (app.Core.PACSTLS:
// above BILDBOTE_PACS_CA/_CERT/_KEY and the settings, below a policy).
type pacsTLSFlags struct{ ca, cert, key string }

func (f *pacsTLSFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.ca, "pacs-ca", "", "")
	fs.StringVar(&f.cert, "pacs-cert", "", "")
	fs.StringVar(&f.key, "pacs-key", "", "")
}

// files are the flags' files, relative paths made absolute.
func (f *pacsTLSFlags) files() app.PACSTLSFiles {
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	return app.PACSTLSFiles{CA: abs(f.ca), Cert: abs(f.cert), Key: abs(f.key)}
}

// apply hands the flags to the core.
func (f *pacsTLSFlags) apply(core *app.Core) error { return core.SetPACSTLSFlags(f.files()) }

// bildbote-cli pacs test [--json] [--timeout D] [--pacs-ca FILE]
// [--pacs-cert FILE --pacs-key FILE] TARGET
//
// TARGET dicom://CALLED@host:port[?calling=AE][&tls=1]: a C-ECHO — is the
// PACS there, and does it take us? With tls=1 over DICOM TLS with the
// files of app.ResolvePACSTLS (the policy and settings are read, the
// state is not opened: the test works while the app runs). TARGET http(s)://…/dicom-web: a QIDO-RS search
// (app.Core.TestPACS; opens the state for the proxy and limits). A
// failure is the diagnosis in the user's words (nobody listens, AE title
// refused, a TLS problem: certificate not trusted, wrong name, client
// certificate wanted, plain port under tls=1 or a TLS port without it;
// login needed, no DICOMweb there, no answer in time) with its exit code
// (4 refused, 5 try later, 3 input).
func runPacs(e *env, args []string) int {
	if len(args) == 0 || args[0] != "test" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(e.stdout, tr(e, "cli.usage.pacs"))
			return ExitOK
		}
		return e.usageError("cli.pacs.missing-action")
	}
	fs := newFlags("pacs")
	var cf coreFlags
	cf.register(fs, false)
	cf.registerProxy(fs)
	var tf pacsTLSFlags
	tf.register(fs)
	timeout := fs.Duration("timeout", 10*time.Second, "")
	pos, code, ok := e.parse(fs, args[1:])
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageError("cli.pacs.missing-target")
	}
	if *timeout <= 0 {
		return e.usageError("cli.bad-flag", "--timeout")
	}
	pr := e.printer(cf.json)
	target, err := app.ParsePACSTarget(pos[0])
	if err != nil {
		return pr.Error(err)
	}
	if target.DIMSE == nil {
		core, err := e.open(&cf)
		if err != nil {
			return pr.Error(err)
		}
		defer core.Close()
		start := time.Now()
		if err := core.TestPACSTarget(e.ctx, target.Raw, *timeout); err != nil {
			return pr.Error(err)
		}
		ms := time.Since(start).Milliseconds()
		pr.Result(map[string]any{"target": target.String(), "qido": "ok", "milliseconds": ms}, func(w io.Writer) {
			fmt.Fprintln(w, tr(e, "cli.pacs.ok-web", target.String(), ms))
		})
		return ExitOK
	}
	cfg := *target.DIMSE
	start := time.Now()
	var info *dimse.TLSInfo
	result := map[string]any{
		"target": pos[0], "address": cfg.Addr, "calledAE": cfg.Called, "callingAE": cfg.Calling,
		"echo": "ok", "tls": cfg.TLS != nil,
	}
	cfg.ConnectTimeout, cfg.ARTIM, cfg.ReadTimeout, cfg.WriteTimeout = *timeout, *timeout, *timeout, *timeout
	if cfg.TLS != nil {
		// The TLS files may come from the policy or the settings: read,
		// not opened, so the test works while the app runs.
		files, err := app.ResolvePACSTLS(app.Config{StateDir: cf.state}, tf.files())
		if err != nil {
			return pr.Error(err)
		}
		cfg.TLS = &dimse.TLSConfig{CAFile: files.CA, CertFile: files.Cert, KeyFile: files.Key}
		result["caFile"], result["clientCert"] = files.CA, files.Cert
		start = time.Now()
		info, err = dimse.EchoInfo(e.ctx, cfg)
		if err != nil {
			return pr.Error(err)
		}
		result["tlsVersion"], result["cipherSuite"], result["clientCertSent"] = info.Version, info.CipherSuite, info.ClientCert
		result["certificate"] = map[string]any{"subject": info.Subject, "issuer": info.Issuer, "notAfter": info.NotAfter.UTC().Format(time.RFC3339), "sha256": info.Fingerprint}
	} else if err := dimse.Echo(e.ctx, cfg); err != nil {
		return pr.Error(err)
	}
	ms := time.Since(start).Milliseconds()
	result["milliseconds"] = ms
	pr.Result(result, func(w io.Writer) {
		key := "cli.pacs.ok"
		if cfg.TLS != nil {
			key = "cli.pacs.ok-tls"
		}
		fmt.Fprintln(w, tr(e, key, cfg.Called, cfg.Addr, cfg.Calling, ms))
		if info == nil {
			return
		}
		fmt.Fprintln(w, tr(e, "cli.pacs.tls-info", info.Version, info.Subject, info.Issuer, info.NotAfter.UTC().Format("2006-01-02"), info.Fingerprint))
		if info.ClientCert {
			fmt.Fprintln(w, tr(e, "cli.pacs.tls-client-cert"))
		}
		if left := time.Until(info.NotAfter); left < 30*24*time.Hour {
			fmt.Fprintln(w, tr(e, "cli.pacs.tls-expires-soon", int(left.Hours()/24)))
		}
	})
	return ExitOK
}
