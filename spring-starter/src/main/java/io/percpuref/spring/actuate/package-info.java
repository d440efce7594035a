/**
 * The {@code percpurefs} actuator endpoint and the {@code percpuRefs} health indicator.
 */
package io.percpuref.spring.actuate;
