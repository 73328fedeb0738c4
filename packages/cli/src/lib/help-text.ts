// Help text shared by several commands.

/** How settings are chosen: documented in `gcorp login --help`, `gcorp whoami --help` and the README. */
export const RESOLUTION_ORDER = `Settings are chosen in this order, the first that is set wins:
- profile: --profile, GCORP_PROFILE, the current profile (the last logged in), "default".
- server: --server, GCORP_SERVER_URL, the profile's server, http://127.0.0.1:4100.
- credential: GCORP_API_KEY, then the profile's stored credential (sent only to the profile's own server).

A secret is never read from a flag (it would show in the process list): use standard input (login --with-token) or GCORP_API_KEY. Stored credentials live in the OS keychain, or without one in credentials.json (mode 0600) in the config folder: GCORP_CONFIG_DIR, else ~/.config/gcorp on Linux, ~/Library/Preferences/gcorp on macOS, %APPDATA%\\gcorp\\Config on Windows.`;
