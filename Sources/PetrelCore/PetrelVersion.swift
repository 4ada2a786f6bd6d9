/// Petrel's version, printed by `petrel --version`.
public enum PetrelVersion {
    public static let string = "0.1.0"
}
