package io.percpuref.registry;

import io.percpuref.ResourceUnavailableException;

import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;

/**
 * A resource registered in a {@link RefRegistry}: a {@link io.percpuref.PercpuRef} plus the
 * resource object, its release action and its lifecycle state.
 *
 * <p>Leases are the hot path: {@link #acquire()} is {@code tryGetLive()} on the resource's own ref
 * and {@link Lease#close()} is its {@code put()}; neither touches anything shared by the registry.
 * {@link #kill()} has the semantics of {@link io.percpuref.PercpuRef#kill()}: linearizable, every
 * acquire that starts after it returned fails.
 *
 * @param <T> the type of resource
 */
public interface ManagedResource<T> {

    /** The name the resource was registered under. */
    String name();

    /**
     * Leases the resource if it is live.
     *
     * @return an open lease; close it exactly when you are done
     * @throws ResourceUnavailableException if the resource is dying or released (counted in
     *                                      {@code percpu.refs.rejections})
     */
    Lease<T> acquire();

    /**
     * Like {@link #acquire()}, but returns empty instead of throwing when the resource is dying or
     * released (counted in {@code percpu.refs.rejections} too).
     */
    Optional<Lease<T>> tryAcquire();

    /**
     * Runs {@code work} on the resource under a lease that is closed when {@code work} returns or
     * throws: the scoped form of {@link #acquire()}. Such a lease cannot leak, so leak detection
     * does not sample it: with {@link LeakDetection#SIMPLE} (the default) and
     * {@link LeakDetection#DISABLED} it costs what the bare count costs, the resource's
     * {@code tryGetLive()} and {@code put()} and no allocation; where every lease is tracked
     * ({@link LeakDetection#PARANOID}, or {@code SIMPLE} with a sampling interval of 1) it is tracked
     * like any lease, so {@link #openLeases()} and the stuck reports show its thread
     * and site while {@code work} runs. In every mode it counts in {@link RefInfo#inFlight()} and
     * holds off the release action like any lease.
     *
     * <pre>{@code
     * int read = handle.withLease(channel -> channel.read(buffer));
     * }</pre>
     *
     * @param work what to do with the resource; it must not keep the resource beyond its return
     * @return what {@code work} returned
     * @throws ResourceUnavailableException if the resource is dying or released ({@code work} does
     *                                      not run; counted in {@code percpu.refs.rejections})
     * @throws NullPointerException         if {@code work} is null
     */
    default <R> R withLease(Function<? super T, ? extends R> work) {
        Objects.requireNonNull(work, "work");
        try (Lease<T> lease = acquire()) {
            return work.apply(lease.resource());
        }
    }

    /**
     * Kills the resource: {@code LIVE -> DYING}. New leases are refused from the moment this
     * returns; the release action runs ({@link RefState#RELEASING}) once the kill is confirmed and
     * the last outstanding lease is closed, and then the resource becomes {@link RefState#RELEASED}
     * and leaves the registry.
     *
     * @return a stage that completes when the kill is confirmed (strictly before release)
     * @throws IllegalStateException if the resource is already dying, releasing or released (the
     *                               message names it and its state); nothing changes; see
     *                               {@link #tryKill()} for callers that may race other killers
     */
    CompletionStage<Void> kill();

    /**
     * Kills the resource if it is live, like {@link #kill()}, and does nothing otherwise: for callers
     * that may race other killers (an unload racing a shutdown, two destroy requests). Exactly one of
     * any number of concurrent calls (and {@link #kill()}s) kills.
     *
     * @return the stage that completes when this kill is confirmed (as {@link #kill()} returns) if
     *         this call killed the resource; empty if it was already dying, releasing or released
     */
    Optional<CompletionStage<Void>> tryKill();

    /**
     * A stage that completes once the release action has run (normally or not), the entry has left
     * the registry and the {@link RefListener#onReleased(RefInfo)} listeners have been called.
     */
    CompletionStage<Void> released();

    /** The current state. */
    RefState state();

    /**
     * A description of the resource now: state, in-flight count, age, time dying and, while it is
     * {@link RefState#DYING dying}, who holds it ({@link RefInfo#openLeases()}).
     */
    RefInfo info();

    /**
     * The leases of this resource open now, without waiting for the garbage collector: their exact
     * number, and thread, age and acquisition site of those that leak detection tracks (all of them
     * with {@link LeakDetection#PARANOID}). Reads only: it adds nothing to the lease fast path.
     *
     * <p>The count is exact when no lease of this resource is acquired or closed while it is read
     * (for example once the code under test has returned); otherwise it is as approximate as
     * {@link RefInfo#inFlight()}. A {@link RefState#RELEASING releasing} or
     * {@link RefState#RELEASED released} resource has none.
     *
     * @return this resource's open leases, possibly none ({@link OpenLeases#isEmpty()})
     */
    OpenLeases openLeases();
}
