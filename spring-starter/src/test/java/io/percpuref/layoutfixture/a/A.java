package io.percpuref.layoutfixture.a;

import io.percpuref.layoutfixture.b.B;

/** Fixture of StarterLayoutTests: one end of a cycle between two subpackages. */
public class A {

    B b;
}
