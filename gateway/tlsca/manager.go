package tlsca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Config configures a Manager.
type Config struct {
	// Dir holds the CA (in Dir/ca) and the leaf certificates certmagic
	// keeps (in Dir/certs). Required.
	Dir string
	// Allow says whether furl serves a name (a host name, or an IP address
	// for a client that sent no SNI); an error refuses it a certificate,
	// and the handshake fails. Required.
	Allow func(ctx context.Context, name string) error
	// Names are the host names and IP addresses, besides localhost (and
	// the names under it) and loopback addresses, that a new root covers.
	// An existing root keeps the names it was made with.
	Names []string
	// Logger receives what happens to certificates. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// Manager hands out certificates during TLS handshakes: from memory, from
// the data directory, or newly issued by the CA for a name Allow accepts.
// certmagic renews them before they expire.
type Manager struct {
	ca    *CA
	cache *certmagic.Cache
	magic *certmagic.Config
	stop  func()
}

// New loads (or creates) the CA in cfg.Dir/ca and starts certmagic's
// maintenance of the leaves; Close stops it.
func New(cfg Config) (*Manager, error) {
	if cfg.Dir == "" || cfg.Allow == nil {
		return nil, errors.New("tlsca: Dir and Allow are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ca, err := LoadFor(filepath.Join(cfg.Dir, "ca"), cfg.Names)
	if err != nil {
		return nil, err
	}
	for _, n := range cfg.Names {
		if !ca.Covers(n) {
			cfg.Logger.Warn("the local CA's root was made before this name was allowed and cannot vouch for it; to cover it, delete the CA (furl trust --uninstall first) and restart furl",
				"name", n, "ca", ca.Dir())
		}
	}
	allow := cfg.Allow
	cfg.Allow = func(ctx context.Context, name string) error {
		if !ca.Covers(name) {
			return fmt.Errorf("the local CA's root does not cover %q", name)
		}
		return allow(ctx, name)
	}
	m := &Manager{ca: ca}
	// certmagic logs with zap; furl says what matters itself, from the
	// events below, in its own log.
	nop := zap.NewNop()
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           nop,
		// Each URL id has its own name; a bound keeps a churn of them
		// from growing the cache without end (evicted ones reload from
		// disk).
		Capacity: 10000,
	})
	m.stop = sync.OnceFunc(m.cache.Stop)
	log := cfg.Logger
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage:  &certmagic.FileStorage{Path: filepath.Join(cfg.Dir, "certs")},
		Issuers:  []certmagic.Issuer{issuer{ca: ca, allow: cfg.Allow}},
		OnDemand: &certmagic.OnDemandConfig{DecisionFunc: cfg.Allow},
		// The leaves carry no OCSP responder: there is nothing to staple.
		OCSP:       certmagic.OCSPConfig{DisableStapling: true},
		DisableARI: true,
		Logger:     nop,
		OnEvent: func(ctx context.Context, event string, data map[string]any) error {
			switch event {
			case "cert_obtained":
				log.Info("TLS certificate issued by the local CA", "name", data["identifier"], "renewal", data["renewal"])
			case "cert_failed":
				log.Warn("TLS certificate could not be issued", "name", data["identifier"], "err", data["error"])
			}
			return nil
		},
	})
	return m, nil
}

// CA is the manager's certificate authority.
func (m *Manager) CA() *CA { return m.ca }

// TLSConfig is a server configuration that offers HTTP/2 and HTTP/1.1 and
// takes its certificates from the manager.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: m.magic.GetCertificate,
		// TLS 1.2 with forward secrecy and AEAD only, as AWS's endpoints
		// offer; TLS 1.3's suites are not configurable and all qualify.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,
		},
	}
}

// Close stops certificate maintenance; later calls do nothing.
func (m *Manager) Close() { m.stop() }

// issuer is certmagic's view of the CA. It checks every name again, so a
// name can have a certificate only while Allow accepts it, however
// certmagic came to ask (a renewal included).
type issuer struct {
	ca    *CA
	allow func(ctx context.Context, name string) error
}

func (i issuer) Issue(ctx context.Context, csr *x509.CertificateRequest) (*certmagic.IssuedCertificate, error) {
	chain, err := i.ca.Sign(ctx, csr, i.allow)
	if err != nil {
		return nil, fmt.Errorf("local CA: %w", err)
	}
	return &certmagic.IssuedCertificate{Certificate: chain}, nil
}

// IssuerKey names the issuer in certmagic's storage: the root's
// fingerprint, so that leaves of a replaced root are not served.
func (i issuer) IssuerKey() string {
	return "furl-local-ca-" + strings.ToLower(strings.ReplaceAll(i.ca.Fingerprint(), ":", ""))[:16]
}
