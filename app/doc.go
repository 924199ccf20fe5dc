// Package app is Bildbote's core: settings and policy, the job store, the
// event stream and the three flows (send, redeem, receive). It has no user
// interface: the desktop GUI (package ui) and bildbote-cli (package cli)
// talk to it only through this API and its events, Syncthing style, so
// either could be replaced without touching the core.
//
// # Opening
//
//	core, err := app.Open(app.Config{})   // state: $BILDBOTE_STATE or <config dir>/Bildbote
//	defer core.Close()
//
// Open fails with an *i18n.UserError when the policy or settings file is
// malformed (never a silent default) and when another process holds the
// state dir. Close pauses running jobs; they stay resumable.
//
// # Settings and policy
//
// Settings() returns the effective settings: defaults < the user's
// settings.json < Config (command-line flags) < the clinic policy
// (policy.toml; path from $BILDBOTE_POLICY or the OS default, see
// DefaultPolicyPath). Every key the policy sets is locked: Locked(name)
// tells the GUI to show it read-only, and SaveSettings/UpdateSettings
// refuse to change it with a KindRefused UserError wrapping *LockedError
// (errors.Is(err, ErrLocked)). The sender and referrer fields of the send
// form are remembered in the settings.
//
// # Events
//
// Subscribe() returns a Subscription; read Event values from C() until it
// is closed. Events are delivered in order (Seq) and never dropped, except
// that a queued progress event is replaced by a newer one for the same job,
// so a slow reader cannot stall the core. Job events carry a full Job
// snapshot. Progress is throttled by one ticker: at most 10 events a second
// per job (restic style). Types: EventJobAdded, EventJobProgress,
// EventJobState, EventJobFinished, EventJobFailed, EventScanProgress,
// EventNotification (e.g. "app.note.code-expiring": a redeemed code expires
// within 7 days; Notifications(now) computes and publishes them).
//
// # Jobs
//
// Every transfer is a Job (kind send, save or import) stored in a bbolt
// database in the state dir: state (queued, running, waiting-for-network,
// paused, done, failed, cancelled), bytes and items done/total, speed, ETA,
// a translatable error (JobError: i18n key, args, hint key) and a receipt.
// Jobs(), Job(id), Unfinished(), Pause(id), Resume(id), Cancel(id),
// Forget(id), Wait(ctx, id). A transient failure (network, 503) puts a job
// into waiting-for-network and retries with growing delays for as long as
// it takes (Config.GiveUpAfter bounds it); a job that a crash, reboot or
// Close interrupted comes back paused with Interrupted set, and
// ResumeInterrupted() continues all of them. Jobs persist no secrets: an
// import needs its inbox API key again after a restart (SetInboxKey), a
// save needs the code to be redeemed again.
//
// # Flows
//
// Scan(ctx, paths, progress) → *dicomscan.Index.
//
// Send: LookupCommunity / SearchCommunities show the inbox's name, key
// fingerprint (Community.Pin: new, match, changed) and limits.
// StartSend(ctx, SendRequest) seals the chosen studies once into an age
// envelope in the spool (state dir/spool) — re-encrypting could not resume,
// age picks a fresh key each time — and uploads it with tus; the upload URL
// is stored in the job at once, so a killed process resumes the same
// upload. A changed community key is refused (crypto.KeyChangedError)
// unless SendRequest.AcceptNewKey. The spool file is deleted after the
// portal's receipt (Receipt.Upload) arrived.
//
// Redeem: RedeemStart(ctx, portal, code) → *RedeemSession with Questions;
// session.Answer(ctx, answers) → Items; StartSave(session, itemIDs, dir)
// downloads and unpacks safely into the library as
// <library>/<patient name> <birth date>/<study date> <description>/ with the
// DICOMDIR kept. The code and the answers stay in memory; Codes() lists
// only masked codes (MaskCode), the portal, the expiry when known, and what
// was saved. The expiry comes from the portal when it sends Bildbote's
// extension header (transfer/dlx Session.Expires), else from
// SetExpiry (the date on the code sheet, which wins over the portal's).
//
// Receive: InboxList(ctx, portal, inbox, apiKey) and StartImport(ImportRequest)
// download each envelope (resumable), check it against the SHA-256 the
// portal listed, decrypt it with the clinic key (InitClinicKey/ClinicKey/
// ImportClinicKey: OS keyring or a passphrase-protected file in the state
// dir; the keyring entry "clinic" is shared by all state dirs of an OS
// user, so Config.NoKeyring or BILDBOTE_KEYRING=off keeps the key in the
// file only; once loaded, the key stays in memory so a key file's
// passphrase is asked once per process), verify
// every file's SHA-256, write each study under its own patient to
// <to>/<patient> <birth date>/<study date> <description>/ (manifest.json
// and files/…; one envelope may hold several patients) and/or STOW-RS into a PACS (per-study
// stored/failed counts in Receipt.Imported), and only then acknowledge
// (DELETE) it on the portal. An envelope whose download does not match
// the listed SHA-256, or that the PACS refuses, is not acknowledged; the
// job goes on with the others and fails at the end with the first such
// error. An envelope that cannot be opened (not for this clinic's key,
// damaged, truncated, over the limits, unsafe paths) goes to the
// quarantine: kept encrypted as downloaded in <state>/quarantine with a
// record without patient data (Quarantine, DeleteQuarantined), and
// acknowledged on the portal as rejected, so the inbox drains; the job
// fails once naming it (app.quarantined.*) with what to do.
//
// Every item ID and name a portal lists is untrusted: inbox IDs must match
// transfer/inbox.ValidID ([A-Za-z0-9_-]{1,64}; others are skipped and
// reported by name, never requested), DLX IDs transfer/dlx.ValidID; local
// files are named after a hash of the ID, never the ID, and every file
// operation in the target and work folders goes through an os.Root.
//
// InboxList also reads each waiting envelope's sealed manifest with the
// clinic key (only its first chunks) into InboxItem.Summary: sender,
// patient, studies; kept in memory, never in a job. TestPACS(ctx, url)
// checks a DICOMweb root with a QIDO-RS search before imports go there
// (ErrPACSUnreachable, ErrPACSUnauthorized, ErrPACSNotFound).
//
// Portals: every flow takes a portal root, a DLX base (…/dlx/v1), a code
// URL, or "" for Settings().PortalURL; with a policy, only allowed_portals
// (or the locked portal_url) are accepted.
//
// # Errors
//
// Errors a person can act on are *i18n.UserError (Kind Input, Refused or
// Transient, with a hint key); use i18n.Localize to show them.
package app
