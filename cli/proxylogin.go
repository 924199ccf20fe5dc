package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli proxy login [--proxy-user NAME] [--proxy-password-file FILE|-]
// (the user defaults to BILDBOTE_PROXY_USER, then the setting proxy_user)
// stores the proxy login in the OS keyring (the password typed on the
// terminal without echo, or from the file, or a line on stdin when stdin
// is no terminal); every later command uses it when it is given no
// password itself. bildbote-cli proxy logout removes it.
func runProxyLogin(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("proxy")
	cf.register(fs, true)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError("cli.bad-flag", pos[0])
	}
	pr := e.printer(cf.json)
	core, err := app.Open(app.Config{StateDir: cf.state, LibraryDir: cf.library})
	if err != nil {
		return pr.Error(err)
	}
	defer core.Close()
	user := cf.givenProxyUser()
	if user == "" {
		user = core.Settings().ProxyUser // the setting proxy_user (a policy may preset it)
	}
	if user == "" {
		return e.usageError("cli.proxylogin.need-user")
	}
	var pw string
	switch {
	case cf.proxyPasswordFile != "":
		if pw, err = e.readSecretFile(cf.proxyPasswordFile); err != nil {
			return pr.Error(i18n.NewError(i18n.KindInput, "cli.secret.bad-file", cf.proxyPasswordFile, err))
		}
	case os.Getenv(app.ProxyPasswordEnv) != "":
		pw = os.Getenv(app.ProxyPasswordEnv)
	default:
		p, isTTY, rerr := e.readHidden(tr(e, "cli.proxy.password-prompt", user))
		switch {
		case rerr != nil:
			return pr.Error(rerr)
		case isTTY:
			pw = p
		default:
			if pw, err = e.readLine(""); err != nil && err != io.EOF {
				return pr.Error(err)
			}
		}
	}
	if pw == "" {
		return e.usageError("cli.proxylogin.empty")
	}
	if err := core.SaveProxyLogin(user, pw); err != nil {
		return pr.Error(err)
	}
	out := struct {
		User  string `json:"user"`
		Saved string `json:"saved"`
	}{user, "keyring"}
	pr.Result(out, func(w io.Writer) { fmt.Fprintln(w, tr(e, "cli.proxylogin.saved", user)) })
	return ExitOK
}

func runProxyLogout(e *env, args []string) int {
	var cf coreFlags
	fs := newFlags("proxy")
	cf.register(fs, false)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError("cli.bad-flag", pos[0])
	}
	pr := e.printer(cf.json)
	core, err := app.Open(app.Config{StateDir: cf.state, LibraryDir: cf.library})
	if err != nil {
		return pr.Error(err)
	}
	defer core.Close()
	found, err := core.ForgetProxyLogin()
	if err != nil {
		return pr.Error(err)
	}
	out := struct {
		Removed bool `json:"removed"`
	}{found}
	pr.Result(out, func(w io.Writer) {
		if found {
			fmt.Fprintln(w, tr(e, "cli.proxylogin.removed"))
		} else {
			fmt.Fprintln(w, tr(e, "cli.proxylogin.none"))
		}
	})
	return ExitOK
}

// proxyPrompt: on an interactive terminal, a 407 the core cannot answer
// asks once for the proxy password (and the user name when none is
// known), without echo, and the request is sent again. Without a
// terminal nothing is asked: the command fails with the translated 407
// and its hint.
func (e *env) proxyPrompt(core *app.Core) {
	f, isFile := e.stdin.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return
	}
	var once sync.Once
	core.SetProxyPrompt(func(ctx context.Context, proxy, user string, refused bool) (string, string, bool) {
		var nu, pw string
		ok := false
		once.Do(func() {
			if refused {
				fmt.Fprintln(e.stderr, tr(e, "cli.proxylogin.refused", proxy))
			} else {
				fmt.Fprintln(e.stderr, tr(e, "cli.proxylogin.asks", proxy))
			}
			nu = user
			if nu == "" {
				l, err := e.readLine(tr(e, "cli.proxylogin.user-prompt"))
				if err != nil || strings.TrimSpace(l) == "" {
					return
				}
				nu = strings.TrimSpace(l)
			}
			p, isTTY, err := e.readHidden(tr(e, "cli.proxy.password-prompt", nu))
			ok = err == nil && isTTY && p != ""
			pw = p
		})
		return nu, pw, ok
	})
}
