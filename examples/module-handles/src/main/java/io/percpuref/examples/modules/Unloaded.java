package io.percpuref.examples.modules;

import java.time.Duration;

/**
 * What an unload (or the retirement of the old version by a reload) reports once the module has
 * been released: its exit ran and its class loader was closed.
 *
 * @param module         the unloaded module
 * @param calls          calls it served over its life
 * @param inFlightAtKill references held when it was killed (calls in flight); the release waited
 *                       for each of them
 * @param drainTime      kill to release
 */
public record Unloaded(ModuleDescriptor module, long calls, long inFlightAtKill, Duration drainTime) {
}
