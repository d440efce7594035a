/**
 * Micrometer binding for the registry: {@link io.percpuref.micrometer.PercpuRefMetrics}. Micrometer is
 * an optional dependency of the core artifact; this is the only package that uses it, so applications
 * without Micrometer never load it.
 */
package io.percpuref.micrometer;
