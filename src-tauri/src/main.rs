//! The Chorus app's desktop entry point.

// No console window next to the app in Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    chorus_app_lib::run();
}
