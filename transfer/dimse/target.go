package dimse

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
)

// DefaultPort is DICOM's well-known port, used when a target names none.
const DefaultPort = 104

// ParseTarget reads a DIMSE PACS target, dicom://CALLED@host:port with an
// optional ?calling=AE (default BILDBOTE), into a Config. tls=1 is
// recognised and refused: DICOM TLS is not implemented yet. Errors are
// *i18n.UserError of KindInput.
func ParseTarget(s string) (Config, error) {
	bad := func(why string) (Config, error) {
		return Config{}, i18n.NewError(i18n.KindInput, "dimse.target.invalid", s, why)
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "dicom" {
		return bad("scheme must be dicom://")
	}
	if u.User == nil || u.User.Username() == "" {
		return bad("called AE title missing (dicom://AE@host:port)")
	}
	if _, has := u.User.Password(); has {
		return bad("no password belongs in the address")
	}
	called := u.User.Username()
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return bad("host missing")
	}
	p := DefaultPort
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("port must be 1-65535")
		}
		p = n
	}
	if u.Path != "" && u.Path != "/" {
		return bad("no path belongs in the address")
	}
	cfg := Config{Addr: net.JoinHostPort(host, strconv.Itoa(p)), Called: called, Calling: DefaultCalling}
	q := u.Query()
	for k, v := range q {
		switch k {
		case "calling":
			cfg.Calling = v[0]
		case "tls":
			if v[0] == "1" || strings.EqualFold(v[0], "true") {
				return Config{}, i18n.NewError(i18n.KindInput, "dimse.target.tls")
			}
		default:
			return bad(fmt.Sprintf("unknown option %q", k))
		}
	}
	if !ValidAETitle(cfg.Called) {
		return bad("called AE title must be 1-16 printable ASCII characters")
	}
	if !ValidAETitle(cfg.Calling) {
		return bad("calling AE title must be 1-16 printable ASCII characters")
	}
	return cfg, nil
}
