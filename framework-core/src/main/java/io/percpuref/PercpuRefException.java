package io.percpuref;

import java.util.Objects;

/**
 * A problem with a {@link PercpuRef} that could not be thrown to the caller that caused it, handed
 * to the ref's error reporter instead: a release or confirm callback that threw, an over-put made
 * in per-CPU mode and detected when the ref switched to atomic mode, or a callback executor that
 * rejected a callback.
 *
 * <p>The message always names the ref and the state it was in; {@link #refName()} and
 * {@link #refState()} carry the same information for programs.
 */
public class PercpuRefException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String refName;
    private final String refState;

    /**
     * @param refName  the name of the ref the problem belongs to
     * @param refState the ref's state when the problem was detected, as {@link PercpuRef#toString()}
     *                 describes it (for example {@code DYING, ATOMIC, count=3})
     * @param message  what went wrong
     * @param cause    the exception a callback threw, or {@code null}
     */
    public PercpuRefException(String refName, String refState, String message, Throwable cause) {
        super("PercpuRef '" + refName + "' [" + refState + "]: " + message, cause);
        this.refName = Objects.requireNonNull(refName, "refName");
        this.refState = Objects.requireNonNull(refState, "refState");
    }

    /** The name of the ref the problem belongs to. */
    public String refName() {
        return refName;
    }

    /** The ref's state when the problem was detected, for example {@code DYING, ATOMIC, count=3}. */
    public String refState() {
        return refState;
    }
}
