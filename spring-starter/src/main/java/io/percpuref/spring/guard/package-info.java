/**
 * The guard machinery: the {@code @Guarded} advisor, its interceptor and the registration of {@code @GuardedResource} beans.
 */
package io.percpuref.spring.guard;
