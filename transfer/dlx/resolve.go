package dlx

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/bildbote/bildbote/internal/i18n"
)

// Target is where and what to redeem.
type Target struct {
	Base  string // DLX base URL, ".../dlx/v1"
	Token string // normalised token; empty when the input named only a server
	// Questions are filled when resolving had to ask the server anyway (a
	// code URL); nil otherwise.
	Questions []Question
}

// ErrNoPortal: the input is a bare code and no portal is configured.
var ErrNoPortal = i18n.NewError(i18n.KindInput, "transfer.dlx.no_portal").WithHint("transfer.dlx.no_portal.hint")

// Resolve turns what a user typed, pasted or scanned into a Target:
//
//   - a code URL, "{portal}/c?token=VALUE" or any URL with a token query
//     parameter (the QR payload): the URL is asked with the DLX header and
//     answers like token/{value}, naming the apiBasePath;
//   - a URL ending in ".../token/VALUE";
//   - a DLX base URL ".../dlx/v1";
//   - a portal root "https://portal.example" (its api_info is asked);
//   - a bare code: the base is defaultPortal's (root or base URL).
//
// c supplies the HTTP client and retry policy; its Base is ignored.
func Resolve(ctx context.Context, c *Client, input, defaultPortal string) (*Target, error) {
	input = strings.TrimSpace(input)
	u, err := url.Parse(input)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if defaultPortal == "" {
			return nil, ErrNoPortal
		}
		t, err := Resolve(ctx, c, defaultPortal, "")
		if err != nil {
			return nil, err
		}
		t.Token = NormalizeToken(input)
		if t.Token == "" {
			return nil, i18n.NewError(i18n.KindInput, "transfer.dlx.empty_code")
		}
		return t, nil
	}
	if tok := u.Query().Get("token"); tok != "" {
		return resolveCodeURL(ctx, c, u, tok)
	}
	path := strings.TrimSuffix(u.Path, "/")
	if i := strings.LastIndex(path, "/token/"); i >= 0 {
		base := *u
		base.Path, base.RawQuery, base.Fragment = path[:i], "", ""
		return &Target{Base: base.String(), Token: NormalizeToken(path[i+len("/token/"):])}, nil
	}
	if strings.HasSuffix(path, BasePath) {
		base := *u
		base.Path, base.RawQuery, base.Fragment = path, "", ""
		return &Target{Base: base.String()}, nil
	}
	root := *u
	root.Path, root.RawQuery, root.Fragment = path+BasePath, "", ""
	probe := *c
	probe.Base = root.String()
	info, err := probe.APIInfo(ctx)
	if err != nil {
		return nil, err
	}
	return &Target{Base: absolute(u, info.APIBasePath, root.String())}, nil
}

func resolveCodeURL(ctx context.Context, c *Client, u *url.URL, tok string) (*Target, error) {
	q, err := c.fetchQuestions(ctx, u.String())
	if err != nil {
		var nd *NotDLXError
		if !errors.As(err, &nd) {
			return nil, err
		}
		q = nil // a page that does not speak DLX: guess the base below
	}
	fallback := *u
	fallback.Path, fallback.RawQuery, fallback.Fragment = BasePath, "", ""
	t := &Target{Base: fallback.String(), Token: NormalizeToken(tok)}
	if q != nil {
		if len(q.APIInfo) > 0 && q.APIInfo[0].APIBasePath != "" {
			t.Base = absolute(u, q.APIInfo[0].APIBasePath, t.Base)
		}
		t.Questions = q.questions()
	}
	return t, nil
}

// absolute resolves a server's apiBasePath (absolute URL or path) against
// the URL it came from.
func absolute(from *url.URL, apiBasePath, fallback string) string {
	ref, err := url.Parse(apiBasePath)
	if err != nil || apiBasePath == "" {
		return fallback
	}
	return strings.TrimSuffix(from.ResolveReference(ref).String(), "/")
}

// CodePath is the code URL's path below a portal's root (the QR
// payload "{root}/c?token=VALUE"; a Bildbote extension of DLX).
const CodePath = "/c"

// TrimToRoot cuts what DLX adds below a portal's root from p, a URL or
// its path: a DLX base ("…/dlx/v1" and anything below "/dlx/"), a bare
// "…/dlx", or the code URL's CodePath; trailing slashes go too. Other
// paths are the root (a portal may live below a path prefix).
func TrimToRoot(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.Index(p, "/dlx/"); i >= 0 {
		return p[:i]
	}
	for _, suffix := range []string{"/dlx", CodePath} {
		if strings.HasSuffix(p, suffix) {
			return strings.TrimSuffix(p, suffix)
		}
	}
	return p
}
