package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/internal/i18n"
)

// bildbote-cli proxy [--portal URL] [--proxy URL] [--proxy-user NAME]
// [--json]: which proxy the commands use for the portal, and where that
// came from (policy, --proxy, BILDBOTE_PROXY, a PAC file from
// --proxy-pac, BILDBOTE_PROXY_PAC or proxy_pac, the settings, the
// policy's default, the OS's settings, WPAD, the environment), the PAC's
// list for the portal and a PAC/WPAD/OS problem with what happens
// instead. The password is never shown.
func runProxy(e *env, args []string) int {
	if len(args) > 0 && (args[0] == "login" || args[0] == "logout") { // proxylogin.go
		return map[string]func(*env, []string) int{"login": runProxyLogin, "logout": runProxyLogout}[args[0]](e, args[1:])
	}
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
	core, pr, code := e.openCore(&cf)
	if core == nil {
		return code
	}
	defer core.Close()
	target := cf.portal
	if target == "" {
		target = core.Settings().PortalURL
	}
	info := core.Proxy(target)
	out := struct {
		app.ProxyInfo
		For         string `json:"for,omitempty"`
		Description string `json:"description"`
		Problem     string `json:"problem,omitempty"`
		ProblemHint string `json:"problem_hint,omitempty"`
	}{ProxyInfo: info, For: target, Description: info.Describe(e.lang)}
	if info.Problem != nil {
		out.Problem, out.ProblemHint = i18n.Localize(e.lang, info.Problem)
	}
	pr.Result(out, func(w io.Writer) {
		if info.URL == "" {
			fmt.Fprintln(w, tr(e, "cli.proxy.direct", out.Description))
		} else {
			fmt.Fprintln(w, tr(e, "cli.proxy.via", info.URL, out.Description))
		}
		if target != "" {
			fmt.Fprintln(w, tr(e, "cli.proxy.for", target))
		}
		if len(info.Ways) > 0 {
			fmt.Fprintln(w, tr(e, "cli.proxy.ways", strings.Join(info.Ways, "; ")))
		}
		if out.Problem != "" {
			fmt.Fprintln(w, tr(e, "cli.proxy.problem", out.Problem))
			if out.ProblemHint != "" {
				fmt.Fprintln(w, tr(e, "cli.proxy.problem.hint", out.ProblemHint))
			}
		}
		switch {
		case info.User != "" && cf.proxyPasswordFile != "":
			fmt.Fprintln(w, tr(e, "cli.proxy.login", info.User, cf.proxyPasswordFile))
		case info.User != "" && os.Getenv(app.ProxyPasswordEnv) != "":
			fmt.Fprintln(w, tr(e, "cli.proxy.login", info.User, app.ProxyPasswordEnv))
		case info.User != "" && info.LoginFrom == app.LoginFromKeyring:
			fmt.Fprintln(w, tr(e, "cli.proxy.login.keyring", info.User))
		case info.User != "":
			fmt.Fprintln(w, tr(e, "cli.proxy.login.user", info.User))
		default:
			fmt.Fprintln(w, tr(e, "cli.proxy.login.none"))
		}
	})
	return ExitOK
}
