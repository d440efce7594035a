package io.percpuref.registry;

/**
 * Receives a {@link RefRegistry}'s lifecycle events. Every method has a no-op default, so a listener
 * implements only what it needs.
 *
 * <p>Listeners are called synchronously, in registration order, on the thread where the event
 * happens (noted on each method), so they should be short and must not block. A listener that
 * throws is reported to the registry's error reporter and logged; the other listeners are still
 * called and the registry's state is unaffected.
 */
public interface RefListener {

    /** A resource was registered; called on the registering thread. */
    default void onRegistered(RefInfo info) {
    }

    /**
     * A resource was killed ({@code LIVE -> DYING}); called on the killing thread, before the kill
     * takes effect on the resource's ref, so it always precedes {@link #onConfirmed(RefInfo)}.
     */
    default void onKilled(RefInfo info) {
    }

    /**
     * A kill was confirmed; called on the callback executor. {@link RefInfo#dyingFor()} is the
     * kill-to-confirm latency.
     */
    default void onConfirmed(RefInfo info) {
    }

    /**
     * A resource's release action has run and the entry left the registry (its name is free); called
     * on the callback executor. {@link RefInfo#dyingFor()} is the kill-to-release latency.
     */
    default void onReleased(RefInfo info) {
    }

    /**
     * A tracked lease was garbage-collected without being closed; called once per leak, on the
     * callback executor (on one of the registry's hand-off threads if the executor is direct or
     * rejects: never on the process-wide leak-detector thread).
     */
    default void onLeak(LeakReport report) {
    }

    /**
     * A resource has been dying for longer than the registry's stuck threshold; called once per
     * resource, on the registry's stuck-detector thread. While the resource is still
     * {@link RefState#DYING}, {@link RefInfo#openLeases()} says who holds it: the tracked leases with
     * thread, age and acquisition site, and how many untracked ones were opened before the kill.
     */
    default void onStuck(RefInfo info) {
    }
}
