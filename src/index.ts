// re-exports are filled in as modules land
