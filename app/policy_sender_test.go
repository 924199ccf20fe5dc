package app

import (
	"strings"
	"testing"
)

// Which sender fields a send needs: name and contact by default; the
// policy can ask for others (also none), and locks its choice.
func TestRequiredSenderFields(t *testing.T) {
	c := openCore(t, Config{})
	if got := strings.Join(c.Settings().RequiredSender(), ","); got != "sender_name,sender_contact" {
		t.Errorf("default required = %s", got)
	}
	c = openCore(t, Config{PolicyPath: writePolicy(t, "required_sender_fields = [\"sender_name\", \"referrer\"]\n")})
	if got := strings.Join(c.Settings().RequiredSender(), ","); got != "sender_name,referrer" {
		t.Errorf("policy required = %s", got)
	}
	if !c.Locked(SettingRequiredSender) {
		t.Error("the policy's required_sender_fields is not locked")
	}
	if err := c.UpdateSettings(func(s *Settings) { s.SenderName = "Praxis" }); err != nil {
		t.Errorf("saving the sender under a required_sender_fields policy: %v", err)
	}
	c = openCore(t, Config{PolicyPath: writePolicy(t, "required_sender_fields = []\n")})
	if got := c.Settings().RequiredSender(); len(got) != 0 {
		t.Errorf("an empty policy list still requires %v", got)
	}
}
