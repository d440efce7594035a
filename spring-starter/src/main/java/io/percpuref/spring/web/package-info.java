/**
 * The HTTP 503 answer to a refused guarded call.
 */
package io.percpuref.spring.web;
