// Package sso is single sign-on for ramp serve: OpenID Connect's
// authorization code flow with PKCE, against any issuer (Okta, Entra ID,
// Google, Keycloak, Dex…). It logs people in two ways:
//
//   - the dashboard: the browser comes back with a session cookie
//     (auth.SessionCookie);
//   - the CLI (ramp login): the browser comes back to a loopback address
//     the CLI listens on, with a one-time code that the CLI exchanges,
//     together with the PKCE verifier only it holds, for a personal token
//     over a POST. The token never travels in a URL.
//
// The state (bound to the browser by a cookie), the nonce and the PKCE
// verifier of each login are kept in the database as one-time codes, so
// that the login may start on one replica and come back to another. The
// ID token is verified (signature against the issuer's keys, issuer,
// audience, expiry, nonce) with github.com/coreos/go-oidc; a RoleMap
// decides who gets in, with what role. Nothing here bumps the
// configuration version.
package sso

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ramp-flags/ramp"
	"github.com/ramp-flags/ramp/internal/admin"
	"github.com/ramp-flags/ramp/internal/auth"
)

// Prefix is where ramp serve mounts the handler.
const Prefix = "/auth/oidc/"

// Defaults of Config.
const (
	DefaultTokenLifetime = 30 * 24 * time.Hour
	// loginTTL is how long a login may take, from the redirect to the
	// issuer to the CLI's exchange of its code.
	loginTTL = 10 * time.Minute
	// cliCodeTTL is how long a CLI has to exchange its code.
	cliCodeTTL = time.Minute
)

// Config configures single sign-on.
type Config struct {
	// Issuer is the issuer's URL, where /.well-known/openid-configuration
	// is found.
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes asked for; default openid, email, profile. Ask for the
	// issuer's groups scope when the role map names groups.
	Scopes []string
	// Roles decides who may log in, with what role.
	Roles RoleMap
	// PublicURL is ramp serve's base URL as browsers reach it (the
	// callback, PublicURL/auth/oidc/callback, is registered with the
	// issuer); by default taken from each request.
	PublicURL string
	// TokenLifetime is how long a token made by ramp login lives (default
	// 30 days).
	TokenLifetime time.Duration
	// Throttle, when set, counts failed code exchanges against the client
	// address (auth.Checker does).
	Throttle interface {
		Refuse(r *http.Request, err error) error
	}
	// HTTPClient talks to the issuer (default http.DefaultClient, with a
	// 10 s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Handler serves Prefix: GET "" (whether and how to log in), GET login,
// GET callback and POST token. It is safe for concurrent use.
type Handler struct {
	cfg Config
	a   *admin.Service
	log *slog.Logger
	mux *http.ServeMux

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use, then kept
}

// New returns the handler; the issuer is contacted at the first login, and
// until it answers, logins get 503.
func New(a *admin.Service, cfg Config) (*Handler, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, &ramp.Error{Kind: ramp.KindInvalid, Msg: "single sign-on needs an issuer and a client id"}
	}
	if len(cfg.Roles.Rules) == 0 {
		return nil, &ramp.Error{Kind: ramp.KindInvalid, Msg: "single sign-on needs a role map: nobody could log in"}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	h := &Handler{cfg: cfg, a: a, log: cfg.Logger, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+Prefix+"{$}", h.info)
	h.mux.HandleFunc("GET "+Prefix+"login", h.login)
	h.mux.HandleFunc("GET "+Prefix+"callback", h.callback)
	h.mux.HandleFunc("POST "+Prefix+"token", h.token)
	return h, nil
}

// ServeHTTP serves the routes under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

// Info is what GET /auth/oidc/ says: that single sign-on is on, and where.
type Info struct {
	Issuer string `json:"issuer"`
	Login  string `json:"login"`
	Token  string `json:"token"`
}

func (h *Handler) info(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Info{Issuer: h.cfg.Issuer, Login: Prefix + "login", Token: Prefix + "token"})
}

// oauth returns the issuer's configuration, discovering it the first time.
func (h *Handler) oauth(ctx context.Context, redirect string) (*oauth2.Config, *oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider == nil {
		ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, h.cfg.HTTPClient), 15*time.Second)
		defer cancel()
		p, err := oidc.NewProvider(ctx, h.cfg.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("discover the issuer %s: %w", h.cfg.Issuer, err)
		}
		h.provider = p
	}
	return &oauth2.Config{ClientID: h.cfg.ClientID, ClientSecret: h.cfg.ClientSecret, Endpoint: h.provider.Endpoint(),
		RedirectURL: redirect, Scopes: h.cfg.Scopes}, h.provider, nil
}

// pending is a login between the redirect to the issuer and the callback.
type pending struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Redirect string `json:"redirect"` // the callback URL the issuer was given
	// For the CLI: where its loopback listener waits, its PKCE challenge
	// and its state.
	CLIRedirect  string `json:"cliRedirect,omitempty"`
	CLIChallenge string `json:"cliChallenge,omitempty"`
	CLIState     string `json:"cliState,omitempty"`
	// For the dashboard: the page to go back to.
	ReturnTo string `json:"returnTo,omitempty"`
}

// grant is what a CLI's one-time code stands for.
type grant struct {
	Person    string `json:"person"`
	Role      string `json:"role"`
	Approve   bool   `json:"approve,omitempty"`
	Challenge string `json:"challenge"`
}

// Kinds of one-time codes.
const (
	codeLogin = "oidc-login"
	codeCLI   = "oidc-cli"
)

// stateCookie binds a login to the browser that started it: the callback
// is refused unless the browser presents the state it was sent with
// (login CSRF). It lives only as long as the login.
const stateCookie = "ramp-oidc-state"

// login starts a login: GET /auth/oidc/login, with cli_redirect,
// cli_challenge and cli_state from ramp login, or return_to (a path) from
// the dashboard.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := pending{Redirect: h.base(r) + Prefix + "callback"}
	if cli := q.Get("cli_redirect"); cli != "" {
		if err := checkLoopback(cli); err != nil {
			h.fail(w, r, http.StatusBadRequest, err.Error())
			return
		}
		p.CLIRedirect, p.CLIChallenge, p.CLIState = cli, q.Get("cli_challenge"), q.Get("cli_state")
		if len(p.CLIChallenge) != 43 || p.CLIState == "" || len(p.CLIState) > 128 {
			h.fail(w, r, http.StatusBadRequest, "ramp login sends cli_challenge (an S256 PKCE challenge) and cli_state")
			return
		}
	} else {
		p.ReturnTo = localPath(q.Get("return_to"))
	}
	cfg, _, err := h.oauth(r.Context(), p.Redirect)
	if err != nil {
		h.log.Warn("single sign-on unavailable", "err", err)
		h.fail(w, r, http.StatusServiceUnavailable, "single sign-on is unavailable: the issuer cannot be reached; try again later")
		return
	}
	state, err1 := admin.NewLoginCode()
	nonce, err2 := admin.NewLoginCode()
	verifier := oauth2.GenerateVerifier()
	if err := errors.Join(err1, err2); err != nil {
		h.fail(w, r, http.StatusInternalServerError, "cannot start a login")
		return
	}
	p.Nonce, p.Verifier = nonce, verifier
	data, _ := json.Marshal(p)
	if err := h.a.PutLoginCode(r.Context(), codeLogin, state, string(data), h.a.Now().Add(loginTTL)); err != nil {
		h.log.Error("cannot store a login", "err", err)
		h.fail(w, r, http.StatusServiceUnavailable, "cannot start a login: the database is unavailable")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: state, Path: Prefix, MaxAge: int(loginTTL / time.Second),
		HttpOnly: true, Secure: strings.HasPrefix(p.Redirect, "https://"), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, cfg.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

// callback finishes a login: GET /auth/oidc/callback?code&state from the
// issuer.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	ck, err := r.Cookie(stateCookie)
	http.SetCookie(w, &http.Cookie{Name: stateCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(state)) != 1 {
		h.fail(w, r, http.StatusBadRequest, "this login was not started by this browser, or took too long: start again")
		return
	}
	data, err := h.a.TakeLoginCode(r.Context(), codeLogin, state)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, "unknown, used or expired login: start again")
		return
	}
	var p pending
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		h.fail(w, r, http.StatusInternalServerError, "a login's record is damaged: start again")
		return
	}
	if e := q.Get("error"); e != "" {
		h.log.Info("the issuer refused a login", "error", e, "description", q.Get("error_description"))
		h.fail(w, r, http.StatusForbidden, "the issuer refused the login: "+e)
		return
	}
	id, err := h.exchange(r.Context(), p, q.Get("code"))
	if err != nil {
		h.log.Warn("single sign-on: a login failed", "err", err)
		h.fail(w, r, http.StatusBadGateway, "the login could not be verified with the issuer: start again")
		return
	}
	rule, ok := h.cfg.Roles.Match(id)
	person := personOf(id)
	if !ok {
		h.log.Info("single sign-on: refused someone the role map does not name", "person", person, "subject", id.Subject)
		h.fail(w, r, http.StatusForbidden, fmt.Sprintf("%s may not use ramp: ask an admin to add you to its role map", person))
		return
	}
	if p.CLIRedirect != "" {
		h.toCLI(w, r, p, grant{Person: person, Role: string(rule.Role), Approve: rule.Approve, Challenge: p.CLIChallenge})
		return
	}
	sess, err := h.a.CreateSession(admin.WithActor(r.Context(), person), admin.CreateSessionRequest{Person: person, Role: string(rule.Role),
		Approve: rule.Approve, Via: "oidc"})
	if err != nil {
		h.log.Error("cannot create a session", "err", err)
		h.fail(w, r, http.StatusServiceUnavailable, "cannot create a session: try again")
		return
	}
	http.SetCookie(w, auth.NewSessionCookie(sess.Secret, sess.ExpiresAt))
	http.Redirect(w, r, p.ReturnTo, http.StatusFound)
}

// exchange trades the issuer's code for an ID token, verifies it and its
// nonce, and returns who it names.
func (h *Handler) exchange(ctx context.Context, p pending, code string) (Identity, error) {
	if code == "" {
		return Identity{}, errors.New("the issuer sent no code")
	}
	cfg, provider, err := h.oauth(ctx, p.Redirect)
	if err != nil {
		return Identity{}, err
	}
	ctx = oidc.ClientContext(ctx, h.cfg.HTTPClient)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		return Identity{}, fmt.Errorf("exchange the code: %w", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, errors.New("the issuer's answer holds no ID token")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: h.cfg.ClientID, Now: h.a.Now}).Verify(ctx, raw)
	if err != nil {
		return Identity{}, fmt.Errorf("verify the ID token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return Identity{}, errors.New("the ID token's nonce is not this login's")
	}
	var claims struct {
		Email         string   `json:"email"`
		EmailVerified *bool    `json:"email_verified"`
		Groups        []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("read the ID token's claims: %w", err)
	}
	// Only an address the issuer says it verified names a person or
	// matches email: and domain: rules; an issuer that does not say (some
	// do not) is matched by group rules and names people by subject.
	verified := claims.Email != "" && claims.EmailVerified != nil && *claims.EmailVerified
	return Identity{Subject: idt.Subject, Email: claims.Email, EmailVerified: verified, Groups: claims.Groups}, nil
}

// personOf names a person in the audit log: their verified address, or
// else "oidc:<subject>".
func personOf(id Identity) string {
	if id.EmailVerified && id.Email != "" {
		return strings.ToLower(id.Email)
	}
	return "oidc:" + id.Subject
}

// toCLI sends the browser back to ramp login's loopback listener with a
// one-time code for the token, never the token.
func (h *Handler) toCLI(w http.ResponseWriter, r *http.Request, p pending, g grant) {
	code, err := admin.NewLoginCode()
	if err != nil {
		h.fail(w, r, http.StatusInternalServerError, "cannot finish the login")
		return
	}
	data, _ := json.Marshal(g)
	if err := h.a.PutLoginCode(r.Context(), codeCLI, code, string(data), h.a.Now().Add(cliCodeTTL)); err != nil {
		h.log.Error("cannot store a login code", "err", err)
		h.fail(w, r, http.StatusServiceUnavailable, "cannot finish the login: the database is unavailable")
		return
	}
	u, _ := url.Parse(p.CLIRedirect)
	v := u.Query()
	v.Set("code", code)
	v.Set("state", p.CLIState)
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// TokenResponse is what POST /auth/oidc/token answers: the personal token
// ramp login keeps.
type TokenResponse struct {
	Token   string    `json:"token"`
	ID      int64     `json:"id"`
	Person  string    `json:"person"`
	Role    string    `json:"role"`
	Approve bool      `json:"approve,omitempty"`
	Expires time.Time `json:"expires"`
}

// token exchanges a CLI's one-time code and its PKCE verifier (form fields
// code and code_verifier) for a personal token.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil || r.URL.RawQuery != "" {
		h.refuse(w, r, http.StatusBadRequest, errors.New("send code and code_verifier as a form in the body"))
		return
	}
	code, verifier := r.PostForm.Get("code"), r.PostForm.Get("code_verifier")
	data, err := h.a.TakeLoginCode(r.Context(), codeCLI, code)
	if err != nil {
		h.refuse(w, r, http.StatusUnauthorized, err)
		return
	}
	var g grant
	if err := json.Unmarshal([]byte(data), &g); err != nil {
		h.refuse(w, r, http.StatusInternalServerError, errors.New("a login's record is damaged"))
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(g.Challenge)) != 1 {
		h.refuse(w, r, http.StatusUnauthorized, errors.New("the code verifier does not match the login's challenge: log in again"))
		return
	}
	tok, err := h.a.IssueLoginToken(r.Context(), g.Person, g.Role, g.Approve, h.cfg.TokenLifetime, "ramp login (single sign-on)")
	if err != nil {
		h.log.Error("cannot issue a token", "err", err)
		h.refuse(w, r, http.StatusServiceUnavailable, errors.New("cannot issue a token: try again"))
		return
	}
	h.log.Info("single sign-on: token issued", "person", tok.Person, "role", tok.Role, "id", tok.ID)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(TokenResponse{Token: tok.Secret, ID: tok.ID, Person: tok.Person, Role: tok.Role, Approve: tok.Approve,
		Expires: *tok.ExpiresAt})
}

// refuse answers the token endpoint with a JSON error, counting a
// refused code against the client address.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status == http.StatusUnauthorized && h.cfg.Throttle != nil {
		var throttled *auth.ThrottledError
		if errors.As(h.cfg.Throttle.Refuse(r, err), &throttled) {
			w.Header().Set("Retry-After", fmt.Sprint(max(1, int(throttled.RetryAfter.Seconds()+0.999))))
			status, err = http.StatusTooManyRequests, throttled
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

var page = template.Must(template.New("page").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>ramp: {{.Title}}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto; padding: 0 1em">
<h1>{{.Title}}</h1><p>{{.Message}}</p></body></html>
`))

// fail answers a browser with a short page.
func (h *Handler) fail(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	_ = page.Execute(w, struct{ Title, Message string }{"Login failed", msg})
}

// base is the server's base URL: PublicURL, or the request's.
func (h *Handler) base(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return h.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// checkLoopback accepts ramp login's listener only: http on 127.0.0.1,
// [::1] or localhost, with a port, and nothing that could send the code
// elsewhere.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	bad := fmt.Errorf("cli_redirect %q: ramp login listens on http://127.0.0.1:PORT/ only", raw)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Fragment != "" || u.Port() == "" {
		return bad
	}
	switch host := u.Hostname(); host {
	case "localhost":
	default:
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return bad
		}
	}
	return nil
}

// localPath keeps a return_to that is a path on this server ("/flags"),
// and "/" for anything else (another site, "//evil.example", "/\evil").
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}

// RandomState returns 32 random bytes in base64url: for the CLI's state.
func RandomState() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
