package io.percpuref;

import java.util.Objects;

/**
 * Thrown when a lease is requested on a resource that no longer hands out new references: it has
 * been killed (dying) or released. This is the expected outcome of a call racing a shutdown, not a
 * programming error; callers that prefer a value to an exception use {@code tryAcquire()}.
 *
 * <p>The message always names the resource and its state; {@link #resourceName()} and
 * {@link #resourceState()} carry the same information for programs (the state is the name of the
 * registry's {@code RefState} constant, for example {@code DYING}, kept as a string so that this
 * package does not depend on the registry layer above it).
 */
public class ResourceUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String resourceName;
    private final String resourceState;

    /**
     * @param resourceName  the name of the resource that refused the lease
     * @param resourceState its state when it refused, for example {@code DYING} or {@code RELEASED}
     * @param message       why, for example {@code "it has been killed"}
     * @throws NullPointerException if any argument is null
     */
    public ResourceUnavailableException(String resourceName, String resourceState, String message) {
        super("resource '" + Objects.requireNonNull(resourceName, "resourceName") + "' ["
                + Objects.requireNonNull(resourceState, "resourceState") + "] is unavailable: "
                + Objects.requireNonNull(message, "message"));
        this.resourceName = resourceName;
        this.resourceState = resourceState;
    }

    /** The name of the resource that refused the lease. */
    public String resourceName() {
        return resourceName;
    }

    /** The resource's state when it refused, for example {@code DYING} or {@code RELEASED}. */
    public String resourceState() {
        return resourceState;
    }
}
