package io.percpuref.registry;

/**
 * Where a {@link ManagedResource} is in its one-way lifecycle:
 * {@code LIVE -> DYING -> RELEASING -> RELEASED}.
 */
public enum RefState {
    /** Registered and not killed: {@link ManagedResource#acquire()} hands out leases. */
    LIVE,
    /**
     * Killed, release action not started: new leases are refused, leases already handed out are
     * still valid, and the release action runs once the last of them is closed.
     */
    DYING,
    /**
     * The last reference is gone and the release action is running (or blocked): no lease is
     * outstanding, new leases are refused, the name is not free yet. A resource that stays here
     * longer than the stuck threshold is reported stuck like a dying one.
     */
    RELEASING,
    /**
     * The release action has run (normally or not); the entry has been removed from the registry
     * and its name is free for a new registration.
     */
    RELEASED
}
