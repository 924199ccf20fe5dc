// Package testca makes certificate authorities and server certificates
// for tests: a portal served over TLS on loopback, the root CA of a
// TLS-inspecting squid. Keys are RSA 2048 (squid's certificate
// generator signs with the CA's key; OpenSSL reads every key here).
// Nothing of it belongs outside tests.
package testca

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority with its files.
type CA struct {
	Cert     *x509.Certificate
	Key      *rsa.PrivateKey
	CertFile string // PEM
	KeyFile  string // PEM, PKCS#8
}

// Options shape a certificate; zero fields take defaults.
type Options struct {
	NotBefore, NotAfter time.Time // default: an hour ago, a day from now
}

func (o Options) window() (time.Time, time.Time) {
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = time.Now().Add(24 * time.Hour)
	}
	return nb, na
}

// New makes a root CA named name and writes base+".pem" and base+".key"
// into dir.
func New(dir, base string, name pkix.Name, o Options) (*CA, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	nb, na := o.window()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: name, NotBefore: nb, NotAfter: na,
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId: keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Key: key, CertFile: filepath.Join(dir, base+".pem"), KeyFile: filepath.Join(dir, base+".key")}
	if err := writePEM(ca.CertFile, "CERTIFICATE", der); err != nil {
		return nil, err
	}
	if err := writeKey(ca.KeyFile, key); err != nil {
		return nil, err
	}
	return ca, nil
}

// Leaf is a server certificate with its files.
type Leaf struct {
	Cert     *x509.Certificate
	CertFile string // PEM: the leaf, then the CA (a full chain)
	KeyFile  string
}

// Issue makes a server certificate for hosts (IP addresses or DNS
// names; the first is the CN) signed by ca, and writes base+".pem" (the
// leaf and the CA) and base+".key" into dir.
func (ca *CA) Issue(dir, base string, hosts []string, o Options) (*Leaf, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	nb, na := o.window()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: hosts[0], Organization: []string{"Bildbote Test Portal"}},
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	l := &Leaf{Cert: cert, CertFile: filepath.Join(dir, base+".pem"), KeyFile: filepath.Join(dir, base+".key")}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})...)
	if err := os.WriteFile(l.CertFile, chain, 0o644); err != nil {
		return nil, err
	}
	if err := writeKey(l.KeyFile, key); err != nil {
		return nil, err
	}
	return l, nil
}

// Pool is a pool with only the CA (for a test client that must trust
// nothing else).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("testca: serial: %v", err))
	}
	return n.Add(n, big.NewInt(1))
}

func keyID(pub *rsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644)
}

func writeKey(path string, key *rsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// 0644: squid, running as Debian's "proxy" user, reads its CA key.
	return writePEM(path, "PRIVATE KEY", der)
}
