package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/bildbote/bildbote/internal/i18n"
)

// AdminSocketPath is the admin socket of a data dir: DIR/admin.sock, or,
// when that path is too long for a Unix socket address (about 100 bytes),
// the path written in DIR/admin.sock.path by the running server.
func AdminSocketPath(dataDir string) string {
	p := filepath.Join(dataDir, adminSockFile)
	if len(p) <= maxSocketPath {
		return p
	}
	if b, err := os.ReadFile(p + ".path"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return p
}

// maxSocketPath is the longest socket path used in place: sun_path holds
// 108 bytes on Linux and 104 on macOS, including the terminating NUL.
const maxSocketPath = 100

// socketListenPath picks where to listen: in the data dir, or in a fresh
// private (0700) temporary folder whose socket path is recorded in the
// data dir.
func socketListenPath(dataDir string) (path string, cleanup func(), err error) {
	p := filepath.Join(dataDir, adminSockFile)
	os.Remove(p + ".path")
	if len(p) <= maxSocketPath {
		return p, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "bildbote-portal-")
	if err != nil {
		return "", nil, err
	}
	p = filepath.Join(dir, adminSockFile)
	if err := os.WriteFile(filepath.Join(dataDir, adminSockFile+".path"), []byte(p+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return p, func() {
		os.Remove(filepath.Join(dataDir, adminSockFile+".path"))
		os.RemoveAll(dir)
	}, nil
}

// ListenAdmin serves AdminAPI on the data dir's admin socket (a Unix
// socket, mode 0600) until Close. The server owns the database, so the
// socket is how admin commands reach it while it runs.
func (s *Server) ListenAdmin() error {
	path, cleanup, err := socketListenPath(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	// We hold the database lock, so no other server uses this socket: a
	// leftover file is from a crash.
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		cleanup()
		return fmt.Errorf("admin socket: %w", err)
	}
	// On Windows the data dir's ACL protects the socket; chmod does not
	// apply to it there.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			cleanup()
			return fmt.Errorf("admin socket: %w", err)
		}
	}
	srv := &http.Server{Handler: s.adminRoutes(), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.adminSrv = srv
	s.adminCleanup = cleanup
	s.mu.Unlock()
	go srv.Serve(ln)
	return nil
}

type adminCall func(ctx context.Context, body []byte) (any, error)

func adminOp[Req, Resp any](fn func(context.Context, Req) (Resp, error)) adminCall {
	return func(ctx context.Context, body []byte) (any, error) {
		var req Req
		if len(body) > 0 {
			if err := json.Unmarshal(body, &req); err != nil {
				return nil, err
			}
		}
		return fn(ctx, req)
	}
}

func noArgs[Resp any](fn func(context.Context) (Resp, error)) func(context.Context, struct{}) (Resp, error) {
	return func(ctx context.Context, _ struct{}) (Resp, error) { return fn(ctx) }
}

func (s *Server) adminRoutes() http.Handler {
	ops := map[string]adminCall{
		"issue-code": adminOp(func(ctx context.Context, req IssueRequest) (IssueResult, error) {
			res, err := s.store.IssueCode(ctx, req)
			if err == nil && s.cfg.PrepareEagerly {
				if rec, err := s.store.codeByID(res.RecordID); err == nil {
					s.prepareRecord(rec)
				}
			}
			return res, err
		}),
		"list-codes":       adminOp(noArgs(s.listCodes)),
		"extend-code":      adminOp(s.extendCode),
		"revoke-code":      adminOp(s.store.RevokeCode),
		"add-community":    adminOp(s.store.AddCommunity),
		"list-communities": adminOp(noArgs(s.store.ListCommunities)),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /admin/v1/{op}", func(w http.ResponseWriter, r *http.Request) {
		op := ops[r.PathValue("op")]
		if op == nil {
			writeError(w, http.StatusNotFound, "unknown-op", "unknown admin operation")
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad-request", err.Error())
			return
		}
		res, err := op(r.Context(), body)
		if err != nil {
			writeAdminError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
	return mux
}

// adminErrorBody carries a UserError's key and arguments across the
// socket so the command prints it translated.
type adminErrorBody struct {
	Error   string   `json:"error"`
	Message string   `json:"message"`
	Kind    int      `json:"kind,omitempty"`
	Key     string   `json:"key,omitempty"`
	Args    []string `json:"args,omitempty"`
}

func writeAdminError(w http.ResponseWriter, err error) {
	body := adminErrorBody{Error: "failed", Message: err.Error()}
	if ue, ok := i18n.AsUserError(err); ok {
		body.Error, body.Kind, body.Key = "user", int(ue.Kind), ue.Key
		for _, a := range ue.Args {
			body.Args = append(body.Args, fmt.Sprint(a))
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, body)
}

// adminClient is AdminAPI over a running server's admin socket.
type adminClient struct{ http *http.Client }

// DialAdmin connects to the admin socket of a server running on dataDir.
// It fails when no server answers there.
func DialAdmin(dataDir string) (AdminAPI, error) {
	path := AdminSocketPath(dataDir)
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	conn, err := dial(context.Background(), "", "")
	if err != nil {
		return nil, err
	}
	conn.Close()
	return &adminClient{http: &http.Client{Transport: &http.Transport{DialContext: dial}}}, nil
}

func (c *adminClient) call(ctx context.Context, op string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://portal/admin/v1/"+op, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := c.http.Do(hreq)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		var e adminErrorBody
		if err := json.NewDecoder(hresp.Body).Decode(&e); err != nil {
			return fmt.Errorf("admin socket: %s", hresp.Status)
		}
		if e.Key != "" {
			args := make([]any, len(e.Args))
			for i, a := range e.Args {
				args[i] = a
			}
			return i18n.NewError(i18n.Kind(e.Kind), e.Key, args...)
		}
		return errors.New(e.Message)
	}
	return json.NewDecoder(hresp.Body).Decode(resp)
}

func (c *adminClient) IssueCode(ctx context.Context, req IssueRequest) (res IssueResult, err error) {
	err = c.call(ctx, "issue-code", req, &res)
	return
}

func (c *adminClient) ListCodes(ctx context.Context) (res []CodeInfo, err error) {
	err = c.call(ctx, "list-codes", struct{}{}, &res)
	return
}

func (c *adminClient) ExtendCode(ctx context.Context, req ExtendRequest) (res CodeInfo, err error) {
	err = c.call(ctx, "extend-code", req, &res)
	return
}

func (c *adminClient) RevokeCode(ctx context.Context, req RevokeRequest) (res CodeInfo, err error) {
	err = c.call(ctx, "revoke-code", req, &res)
	return
}

func (c *adminClient) AddCommunity(ctx context.Context, req AddCommunityRequest) (res AddCommunityResult, err error) {
	err = c.call(ctx, "add-community", req, &res)
	return
}

func (c *adminClient) ListCommunities(ctx context.Context) (res []CommunityInfo, err error) {
	err = c.call(ctx, "list-communities", struct{}{}, &res)
	return
}

// Session is an AdminAPI for a data dir, whether or not a server runs on
// it, with Close to release it.
type Session struct {
	AdminAPI
	close func() error
}

// Close releases the database or the socket.
func (s *Session) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// OpenAdmin reaches the data dir: through the running server's admin
// socket if one answers, else by opening the database directly.
func OpenAdmin(dataDir string) (*Session, error) {
	// A server may start between the two attempts: then the database is
	// locked, and the socket answers on the next round.
	var err error
	for range 3 {
		if api, derr := DialAdmin(dataDir); derr == nil {
			return &Session{AdminAPI: api}, nil
		}
		var st *Store
		st, err = OpenStore(dataDir, 2*time.Second)
		if err == nil {
			return &Session{AdminAPI: st, close: st.Close}, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
	}
	return nil, err
}
