package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// ClerkKeys is the Clerk JWKS as a key source (jwkset storage + keyfunc), with
// the behaviour an outage of Clerk needs (docs/api.md "Operations"):
//
//   - Until a key set has been loaded once, it is fetched again in the
//     background at most NotLoadedRetry (1 s) after each failed try, and Ready
//     fails (the process answers /readyz 503): a process that started while
//     Clerk was unreachable accepts tokens within about a second of Clerk
//     coming back, not after the next hourly refresh.
//   - A token with an unknown kid triggers a fetch: at once while the last
//     fetch failed (the keys may just be back), otherwise at most once per
//     unknownKIDEvery (a key rotation).
//   - A failed refresh never drops the keys already loaded: tokens keep
//     verifying through an outage; the refresh is retried every FailedRetry.
type ClerkKeys struct {
	url        string
	client     *http.Client
	refresh    time.Duration
	unknownKID *rate.Limiter
	mem        *jwkset.MemoryJWKSet
	log        *slog.Logger

	loaded     atomic.Bool // a key set was loaded at least once
	lastFailed atomic.Bool // the last fetch failed
	fetchMu    sync.Mutex  // one fetch at a time
	lastTry    time.Time   // under fetchMu
	firstErr   error       // how NewClerkKeys' fetch went (read by Run)
}

// Retry periods of ClerkKeys.
const (
	// NotLoadedRetry is the longest wait between fetches while no key set was ever loaded.
	NotLoadedRetry = time.Second
	// FailedRetry is the wait before retrying a failed refresh when keys are loaded.
	FailedRetry = 30 * time.Second
	// jwksTimeout bounds one fetch.
	jwksTimeout = 5 * time.Second
	// unknownKIDMinGap is the least time between two fetches triggered by unknown kids while fetches fail.
	unknownKIDMinGap = 200 * time.Millisecond
)

// NewClerkKeys fetches the JWKS of the Clerk frontend API URL once (waiting
// at most jwksTimeout). Run keeps it fresh: every refresh, and as the type
// says after failures; the caller runs it (a process, under its group of
// background loops). An unreachable Clerk is logged, never an error.
func NewClerkKeys(ctx context.Context, frontendAPIURL string, refresh, unknownKIDEvery time.Duration, log *slog.Logger) *ClerkKeys {
	return NewClerkKeysWithClient(ctx, frontendAPIURL, refresh, unknownKIDEvery, log, &http.Client{Timeout: jwksTimeout})
}

// NewClerkKeysWithClient is NewClerkKeys fetching through client (tests give
// one that serves the JWKS in-process, so a testing/synctest bubble's clock
// runs the retry schedule instead of the machine's).
func NewClerkKeysWithClient(ctx context.Context, frontendAPIURL string, refresh, unknownKIDEvery time.Duration, log *slog.Logger, client *http.Client) *ClerkKeys {
	if log == nil {
		log = slog.Default()
	}
	k := &ClerkKeys{
		url:        strings.TrimRight(frontendAPIURL, "/") + "/.well-known/jwks.json",
		client:     client,
		refresh:    refresh,
		unknownKID: rate.NewLimiter(rate.Every(unknownKIDEvery), 1),
		mem:        jwkset.NewMemoryStorage(),
		log:        log,
	}
	k.fetchMu.Lock()
	k.firstErr = k.fetchLocked(ctx, 0)
	k.fetchMu.Unlock()
	return k
}

// NewClerkKeyfunc is NewClerkKeys' keyfunc, refreshed by a goroutine of its
// own until ctx ends (for tools and tests that need no readiness and no wait).
func NewClerkKeyfunc(ctx context.Context, frontendAPIURL string, refresh, unknownKIDEvery time.Duration) (jwt.Keyfunc, error) {
	k := NewClerkKeys(ctx, frontendAPIURL, refresh, unknownKIDEvery, nil)
	go k.Run(ctx)
	return k.Keyfunc(ctx)
}

// Keyfunc verifies tokens with the loaded keys (keyfunc/v3 over this storage).
func (k *ClerkKeys) Keyfunc(ctx context.Context) (jwt.Keyfunc, error) {
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage{k}})
	if err != nil {
		return nil, fmt.Errorf("Clerk JWKS keyfunc: %w", err)
	}
	return kf.KeyfuncCtx(ctx), nil
}

// Ready fails while no key set was ever loaded (readiness: the process could
// not verify any token).
func (k *ClerkKeys) Ready(context.Context) error {
	if !k.loaded.Load() {
		return fmt.Errorf("Clerk JWKS %s never loaded", k.url)
	}
	return nil
}

// Run refreshes the keys until ctx ends (retrying at most NotLoadedRetry
// apart while none was ever loaded, FailedRetry after a failed refresh).
func (k *ClerkKeys) Run(ctx context.Context) {
	err := k.firstErr
	backoff := 100 * time.Millisecond
	for {
		wait := k.refresh
		if err != nil {
			if k.loaded.Load() {
				wait = FailedRetry
			} else {
				wait, backoff = backoff, min(2*backoff, NotLoadedRetry)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		k.fetchMu.Lock()
		err = k.fetchLocked(ctx, 0)
		k.fetchMu.Unlock()
	}
}

// fetchLocked loads the key set (hold fetchMu), unless the last fetch began
// less than minGap ago (then it reports how that one went). Keys are replaced
// only by a good set.
func (k *ClerkKeys) fetchLocked(ctx context.Context, minGap time.Duration) error {
	if minGap > 0 && time.Since(k.lastTry) < minGap {
		if k.lastFailed.Load() {
			return errors.New("Clerk JWKS: last fetch failed")
		}
		return nil
	}
	k.lastTry = time.Now()
	keys, err := k.get(ctx)
	if err == nil {
		err = k.mem.KeyReplaceAll(ctx, keys)
	}
	if err != nil {
		first := !k.lastFailed.Swap(true)
		if first || !k.loaded.Load() {
			k.log.Error("fetch Clerk JWKS failed; tokens signed with keys not loaded yet are refused", "url", k.url,
				"keys_loaded", k.loaded.Load(), "err", err)
		}
		return err
	}
	if k.lastFailed.Swap(false) || !k.loaded.Load() {
		k.log.Info("Clerk JWKS loaded", "url", k.url, "keys", len(keys))
	}
	k.loaded.Store(true)
	return nil
}

func (k *ClerkKeys) get(ctx context.Context) ([]jwkset.JWK, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("Clerk JWKS request: %w", err)
	}
	res, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Clerk JWKS %s: %w", k.url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("Clerk JWKS %s: status %d", k.url, res.StatusCode)
	}
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("Clerk JWKS %s: decode: %w", k.url, err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for _, m := range set.Keys {
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		switch {
		case errors.Is(err, jwkset.ErrUnsupportedKey):
			continue
		case err != nil:
			return nil, fmt.Errorf("Clerk JWKS %s: key %q: %w", k.url, m.KID, err)
		}
		keys = append(keys, jwk)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("Clerk JWKS %s: no usable key", k.url)
	}
	return keys, nil
}

// storage is the jwkset.Storage keyfunc reads: the loaded keys, with a fetch
// on an unknown kid (ClerkKeys says when).
type storage struct{ k *ClerkKeys }

func (s storage) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	k := s.k
	jwk, err := k.mem.KeyRead(ctx, kid)
	if !errors.Is(err, jwkset.ErrKeyNotFound) {
		return jwk, err
	}
	switch {
	case k.lastFailed.Load() || !k.loaded.Load():
		// The keys may just be back: try now. One caller fetches (at most
		// every unknownKIDMinGap); while it does, the others fail fast.
		if !k.fetchMu.TryLock() {
			return jwk, err
		}
		_ = k.fetchLocked(ctx, unknownKIDMinGap)
		k.fetchMu.Unlock()
	case k.unknownKID.Allow():
		k.fetchMu.Lock()
		_ = k.fetchLocked(ctx, 0)
		k.fetchMu.Unlock()
	default:
		return jwk, err
	}
	return k.mem.KeyRead(ctx, kid)
}

func (s storage) KeyDelete(ctx context.Context, kid string) (bool, error) {
	return s.k.mem.KeyDelete(ctx, kid)
}
func (s storage) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	return s.k.mem.KeyReadAll(ctx)
}
func (s storage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	return s.k.mem.KeyReplaceAll(ctx, given)
}
func (s storage) KeyWrite(ctx context.Context, jwk jwkset.JWK) error {
	return s.k.mem.KeyWrite(ctx, jwk)
}
func (s storage) JSON(ctx context.Context) (json.RawMessage, error) { return s.k.mem.JSON(ctx) }
func (s storage) JSONPublic(ctx context.Context) (json.RawMessage, error) {
	return s.k.mem.JSONPublic(ctx)
}
func (s storage) JSONPrivate(ctx context.Context) (json.RawMessage, error) {
	return s.k.mem.JSONPrivate(ctx)
}
func (s storage) JSONWithOptions(ctx context.Context, m jwkset.JWKMarshalOptions, v jwkset.JWKValidateOptions) (json.RawMessage, error) {
	return s.k.mem.JSONWithOptions(ctx, m, v)
}
func (s storage) Marshal(ctx context.Context) (jwkset.JWKSMarshal, error) {
	return s.k.mem.Marshal(ctx)
}
func (s storage) MarshalWithOptions(ctx context.Context, m jwkset.JWKMarshalOptions, v jwkset.JWKValidateOptions) (jwkset.JWKSMarshal, error) {
	return s.k.mem.MarshalWithOptions(ctx, m, v)
}
