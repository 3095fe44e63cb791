package live

import "context"

type resumeKey struct{}

// resume is where a connection's chat subscriptions start when they name no
// `after`: the last message the client saw, per session (a websocket's
// connection_init "resume"), or for whichever session the one subscription
// follows (an SSE request's Last-Event-ID).
type resume struct {
	sessions map[string]string
	any      string
}

// WithResume returns a context whose sessionMessages subscriptions without
// `after` start right after sessions[sessionId] (a message id), as if they
// had named it as `after`, with the same validation.
func WithResume(ctx context.Context, sessions map[string]string) context.Context {
	if len(sessions) == 0 {
		return ctx
	}
	return context.WithValue(ctx, resumeKey{}, resume{sessions: sessions})
}

// WithLastEventID returns a context whose sessionMessages subscription
// without `after` starts right after the message id (an SSE client's
// Last-Event-ID), with the same validation as `after`.
func WithLastEventID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, resumeKey{}, resume{any: id})
}

// resumeAfter is the resume point of ctx's connection for a session, or nil.
func resumeAfter(ctx context.Context, sessionID string) *string {
	r, ok := ctx.Value(resumeKey{}).(resume)
	if !ok {
		return nil
	}
	if id, ok := r.sessions[sessionID]; ok {
		return &id
	}
	if r.any != "" {
		return &r.any
	}
	return nil
}
