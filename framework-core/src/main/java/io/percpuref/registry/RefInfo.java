package io.percpuref.registry;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A point-in-time description of one managed resource, for listeners, snapshots, reports, metrics
 * and actuator endpoints. The fields are read one after another, NOT as an atomic snapshot.
 *
 * @param name       the resource's registered name
 * @param state      its state when this was taken
 * @param inFlight   approximately how many leases (and other references) are outstanding; 0 once
 *                   released. Built from {@link io.percpuref.PercpuRef#approximateCount()}, so it
 *                   may be briefly off while leases are being acquired or closed
 * @param age        time since registration (frozen at release)
 * @param dyingFor   time since the kill: {@link Duration#ZERO} while live, frozen at release (then
 *                   it is the kill-to-release latency)
 * @param openLeases who holds a {@link RefState#DYING dying} resource: its open leases, with
 *                   thread, age and acquisition site of the tracked ones (bounded: see
 *                   {@link OpenLeases}). Present for a DYING resource in
 *                   {@link ManagedResource#info()}, {@link RefRegistry#snapshot()},
 *                   {@link ShutdownReport#stragglers()} and {@link RefListener#onStuck(RefInfo)};
 *                   empty while live, releasing or released, and in the other listener events
 *                   (which stay cheap)
 */
public record RefInfo(String name, RefState state, long inFlight, Duration age, Duration dyingFor,
                      Optional<OpenLeases> openLeases) {

    /**
     * @throws NullPointerException     if a component other than {@code inFlight} is null
     * @throws IllegalArgumentException if {@code inFlight} is negative
     */
    public RefInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(state, "state");
        Objects.requireNonNull(age, "age");
        Objects.requireNonNull(dyingFor, "dyingFor");
        Objects.requireNonNull(openLeases, "openLeases");
        if (inFlight < 0) {
            throw new IllegalArgumentException("resource '" + name + "' [" + state
                    + "]: inFlight must not be negative, was " + inFlight);
        }
    }

    /**
     * A description without open leases (as for a live resource).
     *
     * @throws NullPointerException     if an argument other than {@code inFlight} is null
     * @throws IllegalArgumentException if {@code inFlight} is negative
     */
    public RefInfo(String name, RefState state, long inFlight, Duration age, Duration dyingFor) {
        this(name, state, inFlight, age, dyingFor, Optional.empty());
    }
}
