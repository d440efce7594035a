/**
 * Drain-aware shared arenas for the Foreign Function and Memory API (JDK 22+), built on
 * {@link io.percpuref.registry.RefRegistry} leases: {@link io.percpuref.ffm.DrainingArena} (memory
 * of one {@link java.lang.foreign.Arena#ofShared() shared arena} under one ref),
 * {@link io.percpuref.ffm.MappedFileGroup} (many mapped files under one ref, closed together) and
 * {@link io.percpuref.ffm.ArenaLease} (what a thread holds while it uses their segments).
 * See {@code docs/ffm.md}.
 */
package io.percpuref.ffm;
