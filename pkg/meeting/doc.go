// Package meeting owns the answer to "which meeting links may a bot be sent
// to": the set of supported platforms (Zoom, Microsoft Teams, Google Meet),
// the validation of user-supplied join URLs, the inference of a link's
// platform, and the canonical form in which a link is stored and handed to a
// bot.
//
// Keeping these rules in one place means the API, the scheduler and the bot
// runner cannot disagree about what a valid link is. The package does no I/O:
// it never resolves hosts or follows redirects, so a link is judged only by
// its text. Errors are typed (*URLError, *PlatformError) and carry a plain
// reason so the HTTP layer can report them against the right request field.
package meeting
