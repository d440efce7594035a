/**
 * The registry layer: named, managed resources on top of {@link io.percpuref.PercpuRef}.
 *
 * <p>{@link io.percpuref.registry.RefRegistry} tracks every {@link io.percpuref.registry.ManagedResource}
 * through {@code LIVE -> DYING -> RELEASED}; {@link io.percpuref.registry.Lease}s are the references
 * that hold a resource's release off; leak detection ({@link io.percpuref.registry.LeakDetection})
 * and stuck detection report misbehaving holders; {@link io.percpuref.registry.RefRegistry#shutdown}
 * drains everything. Only {@code java.*} and {@code io.percpuref} are imported here: metrics live in
 * {@code io.percpuref.micrometer}, which reads this package's counters and events.
 */
package io.percpuref.registry;
