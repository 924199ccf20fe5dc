package portal

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/portal/accesscode"
)

// Bucket names of the state database.
var (
	bucketCodes       = []byte("codes")       // record ID → codeRecord JSON
	bucketCodeIndex   = []byte("codeIndex")   // HMAC(code) → record ID
	bucketCommunities = []byte("communities") // lower-case code → community JSON
	bucketReceipts    = []byte("receipts")    // upload ID → Receipt JSON
)

// Errors of the store that callers map to answers.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrLocked   = errors.New("data dir is in use by another process")
)

// Question types and answer formats of DLX (tfaQuestion).
const (
	QuestionBirthDate = "PAT_BIRTH_DATE"
	QuestionStudyDate = "STUDY_DATE"
	QuestionPassword  = "PASSWORD"
	QuestionCustom    = "CUSTOM"
	FormatDate        = "DATE"
	FormatString      = "STRING"
)

// question is one second factor of an access code; only the hash of its
// answer is kept.
type question struct {
	ID     string            `json:"id"`
	Type   string            `json:"type"`
	Format string            `json:"format"`
	Texts  map[string]string `json:"texts,omitempty"` // language → text, for CUSTOM
	Answer slowHash          `json:"answer"`
}

// Item is one downloadable thing behind an access code: a DICOM study
// (served as an IHE PDI ZIP) or a PDF report.
type Item struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"` // "study" or "pdf"
	MIMEType    string `json:"mimeType"`
	Description string `json:"description"`
	StudyUID    string `json:"studyInstanceUID,omitempty"`
	Date        string `json:"date,omitempty"`
	Modalities  string `json:"modalities,omitempty"`
	PatientName string `json:"patientsName,omitempty"`
	BirthDate   string `json:"patientsBirthdate,omitempty"`
	Sex         string `json:"patientsSex,omitempty"`
	FileCount   int    `json:"fileCount,omitempty"`
	// Path is the PDF's path under the record's src/ folder.
	Path string `json:"path,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// Item kinds.
const (
	KindStudy = "study"
	KindPDF   = "pdf"
)

// codeRecord is an access code as stored.
type codeRecord struct {
	ID        string     `json:"id"`
	Code      slowHash   `json:"code"`
	Questions []question `json:"questions"`
	Items     []Item     `json:"items"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	Revoked   bool       `json:"revoked,omitempty"`
	RevokedAt time.Time  `json:"revokedAt,omitzero"`
	Downloads int        `json:"downloads,omitempty"`
}

// community is a clinic's upload inbox as stored.
type community struct {
	Code           string    `json:"code"`
	Name           string    `json:"name"`
	Recipients     []string  `json:"recipients"`
	APIKeyHash     string    `json:"apiKeyHash"`
	MaxUploadBytes int64     `json:"maxUploadBytes"`
	Password       *slowHash `json:"password,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
}

// Receipt is the portal's confirmation of an upload filed into an inbox.
type Receipt = wire.Receipt

// receiptRecord is a Receipt as stored (with the fields the JSON answer
// leaves out).
type receiptRecord struct {
	Receipt
	Filename     string `json:"filename,omitempty"`
	Acknowledged bool   `json:"acknowledged,omitempty"`
}

// Store is the state of a data dir: the bbolt database plus the keys kept
// next to it. Only one process can hold it open (bbolt locks the file).
type Store struct {
	dir      string
	db       *bolt.DB
	indexKey []byte
	jwtKey   ed25519.PrivateKey
}

// Paths inside a data dir.
const (
	stateFile     = "state.db"
	indexKeyFile  = "keys/code-index.key"
	jwtKeyFile    = "keys/jwt-ed25519.seed"
	codesDir      = "codes"   // codes/<record ID>/{src/,index.json,zip/}
	uploadsDir    = "uploads" // tusd file store
	inboxDir      = "inbox"   // inbox/<community>/<upload ID>
	sheetsDir     = "sheets"  // printable code sheets
	adminSockFile = "admin.sock"
)

// OpenStore opens (creating if needed) the state of data dir dir. When
// another process holds the database, it gives up after timeout with
// ErrLocked.
func OpenStore(dir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, stateFile), 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("open state: %w", err)
	}
	s := &Store{dir: dir, db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCodes, bucketCodeIndex, bucketCommunities, bucketReceipts} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("init state: %w", err)
	}
	if s.indexKey, err = loadOrCreateKey(filepath.Join(s.dir, indexKeyFile), 32); err != nil {
		return err
	}
	seed, err := loadOrCreateKey(filepath.Join(s.dir, jwtKeyFile), ed25519.SeedSize)
	if err != nil {
		return err
	}
	s.jwtKey = ed25519.NewKeyFromSeed(seed)
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// newID returns a random identifier of n bytes, lower-case base32.
func newID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func getJSON(b *bolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return ErrNotFound
	}
	return json.Unmarshal(data, v)
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// allJSON decodes the records of a bucket that keep accepts (all when
// keep is nil), in key order; what names the kind of record in errors.
func allJSON[T any](s *Store, bucket []byte, what string, keep func(T) bool) ([]T, error) {
	var out []T
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var rec T
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("%s %s: %w", what, k, err)
			}
			if keep == nil || keep(rec) {
				out = append(out, rec)
			}
			return nil
		})
	})
	return out, err
}

// --- access codes ---

// insertCode stores rec under a fresh access code and returns the code.
func (s *Store) insertCode(rec *codeRecord) (string, error) {
	var code string
	err := s.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketCodeIndex)
		for {
			code = accesscode.Generate()
			if idx.Get(indexKey(s.indexKey, code)) == nil {
				break
			}
		}
		if tx.Bucket(bucketCodes).Get([]byte(rec.ID)) != nil {
			return ErrExists
		}
		rec.Code = newSlowHash(code)
		if err := idx.Put(indexKey(s.indexKey, code), []byte(rec.ID)); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketCodes), []byte(rec.ID), rec)
	})
	return code, err
}

// codeByValue finds the record of a normalised access code. It checks
// the index only; the caller verifies rec.Code.
func (s *Store) codeByValue(code string) (*codeRecord, error) {
	var rec codeRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketCodeIndex).Get(indexKey(s.indexKey, code))
		if id == nil {
			return ErrNotFound
		}
		return getJSON(tx.Bucket(bucketCodes), id, &rec)
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

func (s *Store) codeByID(id string) (*codeRecord, error) {
	var rec codeRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketCodes), []byte(id), &rec)
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// updateCode applies fn to the record id inside one transaction.
func (s *Store) updateCode(id string, fn func(*codeRecord) error) (*codeRecord, error) {
	var rec codeRecord
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCodes)
		if err := getJSON(b, []byte(id), &rec); err != nil {
			return err
		}
		if err := fn(&rec); err != nil {
			return err
		}
		return putJSON(b, []byte(id), &rec)
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// resolveCodeRef finds a record by its ID or by the access code itself
// (as typed by the admin).
func (s *Store) resolveCodeRef(ref string) (string, error) {
	if _, err := s.codeByID(ref); err == nil {
		return ref, nil
	}
	if code, ok := accesscode.Normalize(ref); ok {
		if rec, err := s.codeByValue(code); err == nil && rec.Code.matches(code) {
			return rec.ID, nil
		}
	}
	return "", ErrNotFound
}

func (s *Store) allCodes() ([]codeRecord, error) {
	recs, err := allJSON[codeRecord](s, bucketCodes, "code", nil)
	sort.Slice(recs, func(i, j int) bool { return recs[i].CreatedAt.Before(recs[j].CreatedAt) })
	return recs, err
}

// deleteCode removes a record and its index entry.
func (s *Store) deleteCode(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bucketCodeIndex)
		c := idx.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(v) == id {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return tx.Bucket(bucketCodes).Delete([]byte(id))
	})
}

// --- communities ---

func communityKey(code string) []byte { return []byte(strings.ToLower(code)) }

func (s *Store) insertCommunity(c *community) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommunities)
		if b.Get(communityKey(c.Code)) != nil {
			return ErrExists
		}
		return putJSON(b, communityKey(c.Code), c)
	})
}

func (s *Store) communityByCode(code string) (*community, error) {
	var c community
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketCommunities), communityKey(code), &c)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (s *Store) allCommunities() ([]community, error) {
	return allJSON[community](s, bucketCommunities, "community", nil)
}

// --- receipts and inbox ---

func (s *Store) putReceipt(r *receiptRecord) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketReceipts), []byte(r.ID), r)
	})
}

func (s *Store) receipt(id string) (*receiptRecord, error) {
	var r receiptRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bucketReceipts), []byte(id), &r)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// inbox lists the unacknowledged receipts of a community, oldest first.
func (s *Store) inbox(code string) ([]receiptRecord, error) {
	out, err := allJSON(s, bucketReceipts, "receipt", func(r receiptRecord) bool {
		return !r.Acknowledged && strings.EqualFold(r.Community, code)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ReceivedAt.Before(out[j].ReceivedAt) })
	return out, err
}

func (s *Store) acknowledge(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReceipts)
		var r receiptRecord
		if err := getJSON(b, []byte(id), &r); err != nil {
			return err
		}
		r.Acknowledged = true
		return putJSON(b, []byte(id), &r)
	})
}
