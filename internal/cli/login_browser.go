package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/ramp-flags/ramp"
)

// browserLoginTimeout is how long ramp login waits for the browser to come
// back.
const browserLoginTimeout = 5 * time.Minute

// openBrowser opens a URL in the user's browser; tests replace it with an
// HTTP client that follows the redirects.
var openBrowser = systemBrowser

// browserLogin logs in through the server's single sign-on and returns a
// personal token:
//
//  1. it asks the server whether single sign-on is on (GET /auth/oidc/);
//  2. it listens on a loopback port (127.0.0.1:0), makes a PKCE verifier
//     and a state, and opens the browser at the server's
//     /auth/oidc/login (printing the URL on stderr, for when no browser
//     opens or there is no terminal);
//  3. the server runs the OpenID Connect login with the issuer and sends
//     the browser back to the loopback port with a one-time code (never
//     the token);
//  4. it exchanges the code and its verifier for the token in a POST.
//
// A stolen code is useless without the verifier, which never leaves this
// process.
func browserLogin(ctx context.Context, io *IOStreams, server string) (token string, err error) {
	server = strings.TrimRight(server, "/")
	client := &http.Client{Timeout: 30 * time.Second}
	if err := ssoAvailable(ctx, client, server); err != nil {
		return "", err
	}
	verifier, err := randomString(32)
	if err != nil {
		return "", err
	}
	state, err := randomString(24)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen on a loopback port for the browser: %w", err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	codes := make(chan result, 1)
	srv := &http.Server{Handler: callbackHandler(state, codes), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	login := server + "/auth/oidc/login?" + url.Values{
		"cli_redirect": {redirect}, "cli_challenge": {challenge}, "cli_state": {state},
	}.Encode()
	fmt.Fprintf(io.ErrOut, "Opening your browser to log in to %s.\nIf it does not open, visit this URL on this machine:\n\n  %s\n\n", server, login)
	// Without a terminal nobody sits at this machine's browser: the URL
	// printed above is the way.
	if io.StderrTTY || io.StdoutTTY {
		if err := openBrowser(ctx, login); err != nil {
			fmt.Fprintf(io.ErrOut, "(could not open a browser: %v)\n", err)
		}
	}
	if io.StderrTTY {
		fmt.Fprintln(io.ErrOut, "Waiting for the browser…")
	}
	wait, cancel := context.WithTimeout(ctx, browserLoginTimeout)
	defer cancel()
	var code string
	select {
	case <-wait.Done():
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", &ramp.Error{Kind: ramp.KindUnauthorized, Msg: fmt.Sprintf("the browser did not come back within %s: run ramp login again", browserLoginTimeout)}
	case res := <-codes:
		if res.err != nil {
			return "", res.err
		}
		code = res.code
	}
	return exchangeCode(ctx, client, server, code, verifier)
}

type result struct {
	code string
	err  error
}

// ssoAvailable asks the server whether it has single sign-on.
func ssoAvailable(ctx context.Context, client *http.Client, server string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/auth/oidc/", nil)
	if err != nil {
		return &ramp.Error{Kind: ramp.KindInvalid, Msg: fmt.Sprintf("server %q: %v", server, err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reach %s: %w", server, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return &ramp.Error{Kind: ramp.KindNotFound,
			Msg: fmt.Sprintf("%s has no single sign-on (ramp serve --oidc-issuer): log in with a personal token instead", server)}
	}
	return fmt.Errorf("ask %s for single sign-on: %s", server, resp.Status)
}

var donePage = template.Must(template.New("done").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ramp login</title></head><body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto">
<h1>{{.}}</h1><p>You may close this tab and go back to the terminal.</p></body></html>
`))

// callbackHandler receives the browser at /callback once: the one-time
// code if the state is ours, or the error the server sent.
func callbackHandler(state string, codes chan<- result) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if q.Get("state") != state {
			w.WriteHeader(http.StatusBadRequest)
			_ = donePage.Execute(w, "This login was not started by this ramp login.")
			return
		}
		var res result
		if code := q.Get("code"); code != "" {
			res.code = code
			_ = donePage.Execute(w, "You are logged in to ramp.")
		} else {
			res.err = &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "the server sent no login code"}
			w.WriteHeader(http.StatusBadRequest)
			_ = donePage.Execute(w, "The login failed.")
		}
		select {
		case codes <- res:
		default: // a second visit: the first one counts
		}
	})
	return mux
}

// exchangeCode trades the one-time code and the PKCE verifier for a
// personal token.
func exchangeCode(ctx context.Context, client *http.Client, server, code, verifier string) (string, error) {
	form := url.Values{"code": {code}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/auth/oidc/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("exchange the login code with %s: %w", server, err)
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return "", fmt.Errorf("exchange the login code with %s: %s, unreadable answer: %w", server, resp.Status, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK && body.Token != "":
		return body.Token, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusTooManyRequests:
		return "", &ramp.Error{Kind: ramp.KindUnauthorized, Msg: "the server refused the login code: " + body.Error}
	}
	return "", fmt.Errorf("exchange the login code with %s: %s: %s", server, resp.Status, body.Error)
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// systemBrowser opens url with the system's opener, without waiting for
// the browser. On Linux without a display there is none.
func systemBrowser(ctx context.Context, url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.CommandContext(ctx, "open", url)
	case "windows":
		cmd = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", url)
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return errors.New("no display")
		}
		cmd = exec.CommandContext(ctx, "xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
