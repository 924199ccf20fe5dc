package ui

import (
	"os"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// A patient CD put in, or a USB stick plugged in, shows up as a newly
// mounted volume. The UI polls the mounted media (Options.discs,
// mountedDiscs in the product: /proc/self/mountinfo's optical file
// systems and the removable-media folders, Windows drive letters) and
// offers to open what is new.

// volumePoll is how often the mounted media are listed (Options can
// change it for tests).
const volumePoll = 2 * time.Second

// watchVolumes polls the mounted media until stop is closed (the window
// closes).
func (u *UI) watchVolumes(stop <-chan struct{}) {
	known := map[string]bool{}
	for _, p := range u.discs() {
		known[p] = true // there before the app started: nothing new
	}
	u.do(func() { u.volumesKnown = known })
	t := time.NewTicker(u.volumePoll)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := u.discs()
		u.do(func() { u.volumesChanged(now) })
	}
}

// volumesChanged offers to open each volume not seen before, and keeps
// the disc list of Send up to date.
func (u *UI) volumesChanged(now []string) {
	u.volumePolls++
	seen := map[string]bool{}
	var fresh []string
	for _, p := range now {
		seen[p] = true
		if !u.volumesKnown[p] {
			fresh = append(fresh, p)
		}
	}
	u.volumesKnown = seen
	if len(fresh) == 0 {
		return
	}
	u.send.refreshDiscs()
	for _, p := range fresh {
		u.offerVolume(p)
	}
}

// offerVolume asks whether to open a newly inserted medium on Send.
func (u *UI) offerVolume(p string) *modal {
	text := widget.NewLabel(u.t("ui.volume.question", p))
	text.Wrapping = fyne.TextWrapBreak
	return u.showModal(u.t("ui.volume.title"), text, u.t("ui.volume.open"), u.t("ui.volume.later"), func() {
		u.Open([]string{p})
	}, nil)
}

// opticalMounts lists the mount points of optical file systems (iso9660,
// udf) from /proc/self/mountinfo, else /proc/mounts.
func opticalMounts() []string {
	var out []string
	unescape := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\134`, `\`).Replace
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			// ID parent major:minor root mountpoint options [optional…] - fstype source super
			pre, post, ok := strings.Cut(line, " - ")
			f, g := strings.Fields(pre), strings.Fields(post)
			if ok && len(f) >= 5 && len(g) >= 1 && (g[0] == "iso9660" || g[0] == "udf") {
				out = append(out, unescape(f[4]))
			}
		}
		return out
	}
	if data, err := os.ReadFile("/proc/mounts"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && (f[2] == "iso9660" || f[2] == "udf") {
				out = append(out, unescape(f[1]))
			}
		}
	}
	return out
}
