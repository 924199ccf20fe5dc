package dimse

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
)

// DefaultPort is DICOM's well-known port, used when a target names none.
const DefaultPort = 104

// ParseTarget reads a DIMSE PACS target, dicom://CALLED@host:port with an
// optional ?calling=AE (default BILDBOTE) and tls=1 (DICOM TLS: Config.TLS
// is then an empty TLSConfig, trusting the OS store; the caller adds a CA
// file or a client certificate), into a Config. Errors are
// *i18n.UserError of KindInput.
func ParseTarget(s string) (Config, error) {
	// why is a catalog key: the reason reads in the message's language.
	bad := func(why string) (Config, error) {
		return Config{}, i18n.NewError(i18n.KindInput, "dimse.target.invalid", s, i18n.Phrase(why))
	}
	u, err := url.Parse(s)
	if err != nil {
		return Config{}, i18n.NewError(i18n.KindInput, "dimse.target.invalid", s, i18n.Phrase("dimse.target.why.syntax")).Wrap(err)
	}
	if u.Scheme != "dicom" {
		return bad("dimse.target.why.scheme")
	}
	if u.User == nil || u.User.Username() == "" {
		return bad("dimse.target.why.no_called")
	}
	if _, has := u.User.Password(); has {
		return bad("dimse.target.why.password")
	}
	called := u.User.Username()
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return bad("dimse.target.why.no_host")
	}
	p := DefaultPort
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("dimse.target.why.port")
		}
		p = n
	}
	if u.Path != "" && u.Path != "/" {
		return bad("dimse.target.why.path")
	}
	cfg := Config{Addr: net.JoinHostPort(host, strconv.Itoa(p)), Called: called, Calling: DefaultCalling}
	q := u.Query()
	for k, v := range q {
		switch k {
		case "calling":
			cfg.Calling = v[0]
		case "tls":
			switch strings.ToLower(v[0]) {
			case "1", "true", "yes", "on":
				cfg.TLS = &TLSConfig{}
			case "0", "false", "no", "off":
			default:
				return bad("dimse.target.why.tls")
			}
		default:
			return Config{}, i18n.NewError(i18n.KindInput, "dimse.target.option", s, i18n.Quote(k))
		}
	}
	if !ValidAETitle(cfg.Called) {
		return bad("dimse.target.why.called")
	}
	if !ValidAETitle(cfg.Calling) {
		return bad("dimse.target.why.calling")
	}
	return cfg, nil
}
