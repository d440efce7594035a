package io.percpuref.registry;

/**
 * Closes a managed resource. Runs exactly once, on the registry's callback executor, after the
 * resource was killed, its kill confirmed, and its last lease closed.
 *
 * <p>A release action that throws is reported to the registry's error reporter and logged; the
 * resource still reaches {@link RefState#RELEASED} and its name becomes free. A release action that
 * blocks keeps the resource {@link RefState#DYING} (and eventually stuck) until it returns, and
 * occupies one callback thread; it does not delay other resources.
 *
 * @param <T> the type of resource
 */
@FunctionalInterface
public interface ReleaseAction<T> {

    /**
     * Closes {@code resource}.
     *
     * @throws Exception anything; it is reported, never propagated to the thread that closed the
     *                   last lease
     */
    void release(T resource) throws Exception;
}
