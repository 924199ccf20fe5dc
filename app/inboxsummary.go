package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"filippo.io/age"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer/envelope"
)

// InboxSummary is what the sealed manifest of a waiting envelope says:
// read with the clinic key before the envelope is imported, so staff see
// who sent whom. It is kept in memory only (the core caches it per item
// and SHA-256) and never stored in a job: patient data is written in
// clear nowhere but the library.
type InboxSummary struct {
	Sender    string `json:"sender,omitempty"`  // name, practice
	Patient   string `json:"patient,omitempty"` // "Müller, Jürgen"
	BirthDate string `json:"birthDate,omitempty"`
	// Patients counts the distinct patients of the studies (a CD may hold
	// several).
	Patients int    `json:"patients"`
	Studies  int    `json:"studies"`
	Files    int    `json:"files"`
	Message  string `json:"message,omitempty"`
}

// summarize reads the manifest of every item the clinic key opens; an
// item it cannot read (not for this clinic, damaged) keeps Summary nil
// and is reported by the import.
func (c *Core) summarize(ctx context.Context, root, code, apiKey string, items []InboxItem) {
	id, _, err := c.clinicIdentity()
	if err != nil {
		return // no key yet: the list still shows what the portal knows
	}
	for i := range items {
		key := items[i].ID + "/" + items[i].SHA256
		c.mu.Lock()
		sum, ok := c.summaries[key]
		c.mu.Unlock()
		if !ok {
			sum, err = c.readSummary(ctx, root, code, apiKey, items[i].ID, id)
			if err != nil {
				continue
			}
			c.mu.Lock()
			c.summaries[key] = sum
			c.mu.Unlock()
		}
		items[i].Summary = sum
	}
}

// readSummary streams the envelope and stops as soon as the manifest is
// decrypted: it comes first, so only its chunks are transferred.
func (c *Core) readSummary(ctx context.Context, root, code, apiKey, itemID string, id *age.X25519Identity) (*InboxSummary, error) {
	u := strings.TrimRight(root, "/") + wire.InboxPath + url.PathEscape(code) + "/" + url.PathEscape(itemID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", itemID, err)
	}
	defer resp.Body.Close() // before the rest arrives: the connection is dropped
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("manifest of %s: %s", itemID, resp.Status)
	}
	m, err := envelope.ReadManifest(ctx, resp.Body, []age.Identity{id})
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", itemID, err)
	}
	return summaryOf(m), nil
}

func summaryOf(m *envelope.Manifest) *InboxSummary {
	sender := strings.TrimSpace(m.Sender.Name)
	if p := strings.TrimSpace(m.Sender.Practice); p != "" && p != sender {
		sender = strings.TrimSpace(sender + ", " + p)
	}
	patients := map[string]bool{}
	for _, st := range m.Studies {
		patients[st.PatientID+"\x00"+st.PatientName] = true
	}
	names := make([]string, 0, len(patients))
	for k := range patients {
		names = append(names, k)
	}
	sort.Strings(names)
	return &InboxSummary{
		Sender: sender, Patient: dicomscan.FormatName(m.Patient.Name), BirthDate: m.Patient.BirthDate,
		Patients: len(names), Studies: len(m.Studies), Files: len(m.Files), Message: m.Message,
	}
}
