package cli

import "os"

func runSend(e *env, args []string) int    { return ExitFailure }
func runRedeem(e *env, args []string) int  { return ExitFailure }
func runReceive(e *env, args []string) int { return ExitFailure }

// apiKeyFrom returns the flag's key or BILDBOTE_API_KEY.
func apiKeyFrom(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv("BILDBOTE_API_KEY")
}
