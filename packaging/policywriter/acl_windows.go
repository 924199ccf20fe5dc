//go:build windows

package main

import (
	"fmt"

	"golang.org/x/sys/windows"
)

// policyDirSDDL grants full control to SYSTEM and Administrators and read
// access to Users, inherited by files and folders, with inheritance from
// %ProgramData% cut off: ProgramData lets every user create files, which
// would let a user write a policy.toml of their own before IT does.
const policyDirSDDL = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;GRGX;;;BU)"

func protectDir(dir string) error {
	sd, err := windows.SecurityDescriptorFromString(policyDirSDDL)
	if err != nil {
		return fmt.Errorf("parse ACL: %w", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("read ACL: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		nil, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("set ACL on %s: %w", dir, err)
	}
	return nil
}
