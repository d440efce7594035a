package io.percpuref.registry;

/**
 * Where a {@link ManagedResource} is in its one-way lifecycle: {@code LIVE -> DYING -> RELEASED}.
 */
public enum RefState {
    /** Registered and not killed: {@link ManagedResource#acquire()} hands out leases. */
    LIVE,
    /**
     * Killed, release action not finished: new leases are refused, leases already handed out are
     * still valid, and the release action runs once the last of them is closed.
     */
    DYING,
    /**
     * The release action has run (normally or not); the entry has been removed from the registry
     * and its name is free for a new registration.
     */
    RELEASED
}
