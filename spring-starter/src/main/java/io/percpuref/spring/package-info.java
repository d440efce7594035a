/**
 * Spring Boot 4 integration of percpu-ref: auto-configuration of a
 * {@link io.percpuref.registry.RefRegistry}, {@link io.percpuref.spring.Guarded @Guarded} methods,
 * {@link io.percpuref.spring.GuardedResource @GuardedResource} beans that are killed, drained and
 * only then closed, a graceful drain at shutdown, Micrometer meters, the {@code percpurefs}
 * actuator endpoint and the {@code percpuRefs} health indicator. See {@code docs/spring-boot.md}.
 */
package io.percpuref.spring;
