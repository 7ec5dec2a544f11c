// Package tlsca is furl's local certificate authority: a root kept in the
// data directory, and leaf certificates for the names furl serves, issued
// on demand during TLS handshakes and kept fresh by certmagic. It is the
// only importer of certmagic.
package tlsca

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Lifetimes of what the CA makes. The root lives long, so that a user
// trusts it once; leaves live a week and are renewed in their last third,
// so that a leaked leaf key is soon worthless.
const (
	RootLifetime = 10 * 365 * 24 * time.Hour
	LeafLifetime = 7 * 24 * time.Hour
)

// Files of the CA in its directory.
const (
	RootFile = "root.pem"
	keyFile  = "root-key.pem"
)

// CA is the local root: its certificate and the key that signs leaves.
type CA struct {
	dir  string
	cert *x509.Certificate
	pem  []byte
	key  crypto.Signer
	// leafLife is how long the leaves it signs live: LeafLifetime, but
	// for tests of renewal.
	leafLife atomic.Int64
}

// Load reads the CA kept in dir, creating it there first when there is
// none, for localhost, the names under it and loopback addresses. Creation
// is atomic: a CA directory is written whole under a temporary name and
// renamed into place, so two furls starting at once end up with the same
// root.
func Load(dir string) (*CA, error) { return LoadFor(dir, nil) }

// LoadFor is Load, a new root also covering extra: host names (with the
// names under them) and IP addresses.
//
// The root is name-constrained to what it covers. It sits in the user's
// trust stores, and its key in a file: whoever reads that file can make
// certificates, but browsers and TLS libraries accept them only for local
// names, never for the user's bank.
func LoadFor(dir string, extra []string) (*CA, error) {
	ca, err := read(dir)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return ca, err
	}
	if err := create(dir, extra); err != nil {
		return nil, err
	}
	return read(dir)
}

// scope is the names and addresses a new root covers.
func scope(extra []string) (dns []string, ips []*net.IPNet) {
	dns = []string{"localhost"}
	ips = []*net.IPNet{
		{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)},
		{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
	}
	for _, n := range extra {
		n = strings.TrimSuffix(strings.ToLower(strings.Trim(n, "[]")), ".")
		if ip := net.ParseIP(n); ip != nil {
			bits := 128
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			ips = append(ips, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
		} else if n != "" && n != "localhost" && !strings.HasSuffix(n, ".localhost") {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

// Exists says whether dir holds a CA, without creating one.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, RootFile))
	return err == nil
}

func read(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, RootFile))
	if err != nil {
		return nil, fmt.Errorf("read the local CA: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, fmt.Errorf("read the local CA's key: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the local CA's %s holds no certificate", filepath.Join(dir, RootFile))
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the local CA's certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("the local CA's %s holds no key", filepath.Join(dir, keyFile))
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse the local CA's key: %w", err)
	}
	key, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("the local CA's key cannot sign")
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("the local CA's key in %s does not match its certificate", dir)
	}
	ca := &CA{dir: dir, cert: cert, pem: certPEM, key: key}
	ca.leafLife.Store(int64(LeafLifetime))
	return ca, nil
}

func create(dir string, extra []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("create the local CA's key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Organization:       []string{"furl local development CA"},
			OrganizationalUnit: []string{owner()},
			CommonName:         "furl local CA " + now.UTC().Format("2006-01-02 15:04:05"),
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(RootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	tmpl.PermittedDNSDomains, tmpl.PermittedIPRanges = scope(extra)
	tmpl.PermittedDNSDomainsCritical = true
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create the local CA's certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode the local CA's key: %w", err)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("create the local CA: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".ca-")
	if err != nil {
		return fmt.Errorf("create the local CA: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, keyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("write the local CA's key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, RootFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("write the local CA's certificate: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if Exists(dir) {
			return nil // another furl made it first; theirs is the CA
		}
		return fmt.Errorf("create the local CA: %w", err)
	}
	return nil
}

// owner names who the root belongs to, so that a user who finds it in a
// trust store knows whose it is.
func owner() string {
	name := "unknown user"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

// Covers says whether the root's name constraints let it vouch for a
// host name or IP address.
func (ca *CA) Covers(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if ip := net.ParseIP(name); ip != nil {
		if len(ca.cert.PermittedIPRanges) == 0 {
			return true // addresses are unconstrained
		}
		for _, r := range ca.cert.PermittedIPRanges {
			if r.Contains(ip) {
				return true
			}
		}
		return false
	}
	if len(ca.cert.PermittedDNSDomains) == 0 {
		return true // names are unconstrained
	}
	for _, d := range ca.cert.PermittedDNSDomains {
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}

// Dir is where the CA's files are.
func (ca *CA) Dir() string { return ca.dir }

// RootPath is the root certificate's PEM file, for tools that take a CA
// file: curl --cacert, AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS.
func (ca *CA) RootPath() string { return filepath.Join(ca.dir, RootFile) }

// RootPEM is the root certificate, PEM-encoded.
func (ca *CA) RootPEM() []byte { return bytes.Clone(ca.pem) }

// Root is the root certificate.
func (ca *CA) Root() *x509.Certificate { return ca.cert }

// Fingerprint is the root's SHA-256 fingerprint, as hex pairs joined by
// colons (how browsers and openssl show it).
func (ca *CA) Fingerprint() string {
	sum := sha256.Sum256(ca.cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// Sign issues a leaf certificate for the names a CSR asks for, once allow
// has accepted each of them, valid for LeafLifetime (from an hour ago, for
// clocks behind). It returns the leaf
// and the root, PEM-encoded, in that order.
func (ca *CA) Sign(ctx context.Context, csr *x509.CertificateRequest, allow func(ctx context.Context, name string) error) ([]byte, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the certificate request's signature: %w", err)
	}
	names := csr.DNSNames
	for _, ip := range csr.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 || len(csr.URIs) > 0 || len(csr.EmailAddresses) > 0 {
		return nil, errors.New("a certificate request must name hosts or IP addresses, and only those")
	}
	for _, n := range names {
		if err := allow(ctx, n); err != nil {
			return nil, fmt.Errorf("no certificate for %q: %w", n, err)
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"furl local development certificate"}, OrganizationalUnit: []string{owner()}},
		DNSNames:     csr.DNSNames,
		IPAddresses:  append([]net.IP(nil), csr.IPAddresses...),
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Duration(ca.leafLife.Load())),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(csr.DNSNames) > 0 {
		tmpl.Subject.CommonName = csr.DNSNames[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, csr.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign a certificate: %w", err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.pem...), nil
}
